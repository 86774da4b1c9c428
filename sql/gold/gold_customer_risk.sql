-- Gold: one row per customer with activity, for a risk dashboard. The
-- customer score is their worst transaction plus 5 points per further
-- flagged transaction, capped at 100.
-- Sums are cast to bigint: DuckDB sums integers as 128-bit (portable-sql.md).

with

activity as (
    select
        customer_id,
        count(*) as transactions,
        cast(sum(amount_cents) as bigint) as amount_cents,
        max(created_at_epoch) as last_transaction_at_epoch
    from silver_transactions
    group by customer_id
),

risk as (
    select
        customer_id,
        count(*) as flagged_transactions,
        cast(sum(amount_cents) as bigint) as flagged_amount_cents,
        max(risk_score) as max_risk_score,
        max(created_at_epoch) as last_flagged_at_epoch,
        cast(sum(is_impossible_travel) as bigint) as impossible_travel_flags,
        cast(sum(is_mule_pass_through) as bigint) as mule_pass_through_flags,
        cast(sum(is_card_testing) as bigint) as card_testing_flags,
        cast(sum(is_mule_fan_in) as bigint) as mule_fan_in_flags,
        cast(sum(is_first_time_payee) as bigint) as first_time_payee_flags,
        cast(sum(is_night_pix_limit) as bigint) as night_pix_limit_flags,
        cast(sum(is_new_device) as bigint) as new_device_flags,
        cast(sum(is_velocity_burst) as bigint) as velocity_burst_flags,
        cast(sum(is_structuring) as bigint) as structuring_flags,
        cast(sum(is_amount_spike) as bigint) as amount_spike_flags
    from gold_anomalies
    group by customer_id
),

customers as (
    select
        customer_id,
        name,
        cpf,
        home_bairro
    from bronze_customers
),

joined as (
    select
        a.customer_id,
        c.name as customer_name,
        '***.' || substr(c.cpf, 5, 7) || '-**' as customer_cpf_masked,
        c.home_bairro,
        a.transactions,
        a.amount_cents,
        a.last_transaction_at_epoch,
        coalesce(r.flagged_transactions, 0) as flagged_transactions,
        coalesce(r.flagged_amount_cents, 0) as flagged_amount_cents,
        coalesce(r.max_risk_score, 0) as max_risk_score,
        r.last_flagged_at_epoch,
        coalesce(r.impossible_travel_flags, 0) as impossible_travel_flags,
        coalesce(r.mule_pass_through_flags, 0) as mule_pass_through_flags,
        coalesce(r.card_testing_flags, 0) as card_testing_flags,
        coalesce(r.mule_fan_in_flags, 0) as mule_fan_in_flags,
        coalesce(r.first_time_payee_flags, 0) as first_time_payee_flags,
        coalesce(r.night_pix_limit_flags, 0) as night_pix_limit_flags,
        coalesce(r.new_device_flags, 0) as new_device_flags,
        coalesce(r.velocity_burst_flags, 0) as velocity_burst_flags,
        coalesce(r.structuring_flags, 0) as structuring_flags,
        coalesce(r.amount_spike_flags, 0) as amount_spike_flags
    from activity as a
    left join risk as r
        on a.customer_id = r.customer_id
    left join customers as c
        on a.customer_id = c.customer_id
),

final as (
    select
        *,
        case
            when flagged_transactions = 0 then 0
            when max_risk_score + 5 * (flagged_transactions - 1) > 100 then 100
            else max_risk_score + 5 * (flagged_transactions - 1)
        end as customer_risk_score
    from joined
)

select * from final
