-- Gold: a risk score for every transaction, so that ranking figures (and
-- dashboards) cover all rows: 0 and level 'none' when no rule fired.
-- Score = sum of the weights of the rules that fired, plus context bonuses
-- (a device first seen in the last 24 h, another flag for the customer in
-- the 24 h before), capped at 100. Bonuses only add to a flagged row: context
-- alone is not an alert.

with

transactions as (
    select
        *
    from silver_transactions
),

customers as (
    select
        customer_id,
        name,
        cpf,
        home_bairro
    from bronze_customers
),

with_context as (
    select
        t.*,
        max(
            case when t.anomaly_flag <> 'Normal' then t.created_at_epoch end
        ) over (
            partition by t.customer_id
            order by t.created_at_epoch, t.transaction_id
            rows between unbounded preceding and 1 preceding
        ) as prev_flagged_at_epoch
    from transactions as t
),

with_points as (
    select
        *,
        is_impossible_travel * :weight_impossible_travel
        + is_mule_pass_through * :weight_mule_pass_through
        + is_card_testing * :weight_card_testing
        + is_mule_fan_in * :weight_mule_fan_in
        + is_first_time_payee * :weight_first_time_payee
        + is_night_pix_limit * :weight_night_pix_limit
        + is_new_device * :weight_new_device
        + is_velocity_burst * :weight_velocity_burst
        + is_structuring * :weight_structuring
        + is_amount_spike * :weight_amount_spike
        + case
            when anomaly_flag <> 'Normal'
                and device_first_seen_epoch is not null
                and created_at_epoch - device_first_seen_epoch < 86400
                then :bonus_new_device
            else 0
        end
        + case
            when anomaly_flag <> 'Normal'
                and prev_flagged_at_epoch is not null
                and created_at_epoch - prev_flagged_at_epoch <= 86400
                then :bonus_recent_flag
            else 0
        end as risk_points
    from with_context
),

scored as (
    select
        *,
        case when risk_points > 100 then 100 else risk_points end as risk_score
    from with_points
),

final as (
    select
        s.*,
        c.name as customer_name,
        -- LGPD: only the middle six digits of the CPF leave the warehouse.
        '***.' || substr(c.cpf, 5, 7) || '-**' as customer_cpf_masked,
        case
            when s.anomaly_flag = 'Normal' then 'none'
            when s.risk_score >= :level_critical then 'critical'
            when s.risk_score >= :level_high then 'high'
            when s.risk_score >= :level_medium then 'medium'
            else 'low'
        end as risk_level
    from scored as s
    left join customers as c
        on s.customer_id = c.customer_id
)

select * from final
