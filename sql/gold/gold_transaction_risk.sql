-- Gold: a risk score for every transaction, so that ranking figures (and
-- dashboards) cover all rows: 0 and level 'none' when no rule fired. Narrow
-- on purpose (it holds every row); the flagged rows with everything an
-- analyst reads are gold_anomalies.
-- Rules score = sum of the weights of the rules that fired, plus context
-- bonuses (a device first seen in the last 24 h, another flag for the
-- customer in the 24 h before), capped at 100. Bonuses only add to a flagged
-- row: context alone is not an alert.
--
-- With a trained model (gold_model_scores, empty without one) this is the
-- one place the two voices meet: the model's points are its calibrated
-- probability x 100, and the score is the higher of the rules score and the
-- model's points. A rule that fires keeps its score (no rule loses recall to
-- the model); the model raises rows no rule caught, and alone makes an alert
-- only from level_medium up.

with

transactions as (
    select
        transaction_id,
        customer_id,
        created_at_epoch,
        local_day,
        bairro,
        channel,
        amount_cents,
        device_first_seen_epoch,
        anomaly_flag,
        is_impossible_travel,
        is_mule_pass_through,
        is_card_testing,
        is_mule_fan_in,
        is_first_time_payee,
        is_night_pix_limit,
        is_new_device,
        is_velocity_burst,
        is_structuring,
        is_amount_spike
    from silver_transactions
),

model_scores as (
    select
        transaction_id,
        model_version,
        model_probability,
        model_reasons
    from gold_model_scores
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

rules_scored as (
    select
        p.*,
        case
            when p.risk_points > 100 then 100 else p.risk_points
        end as rules_score,
        m.model_version,
        m.model_probability,
        m.model_reasons,
        cast(floor(100 * m.model_probability) as bigint) as model_points
    from with_points as p
    left join model_scores as m
        on p.transaction_id = m.transaction_id
),

scored as (
    select
        *,
        case
            when model_points > rules_score then model_points
            else rules_score
        end as risk_score,
        case
            when anomaly_flag <> 'Normal' then 1
            when model_points >= :level_medium then 1
            else 0
        end as is_alert
    from rules_scored
),

final as (
    select
        transaction_id,
        customer_id,
        created_at_epoch,
        local_day,
        bairro,
        channel,
        amount_cents,
        anomaly_flag,
        prev_flagged_at_epoch,
        risk_points,
        rules_score,
        model_version,
        model_probability,
        model_points,
        model_reasons,
        risk_score,
        case
            when is_alert = 0 then 'none'
            when risk_score >= :level_critical then 'critical'
            when risk_score >= :level_high then 'high'
            when risk_score >= :level_medium then 'medium'
            else 'low'
        end as risk_level
    from scored
)

select * from final
