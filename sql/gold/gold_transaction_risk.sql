-- Gold: a risk score for every transaction, so that ranking figures (and
-- dashboards) cover all rows: 0 and level 'none' when nothing stands out.
-- Narrow on purpose (it holds every row); the flagged rows with everything
-- an analyst reads are gold_anomalies. This file is the one place where the
-- voices meet: the rules score and the anomaly score (gold_risk_parts, where
-- each is defined) and the trained model's.
--
-- The learned voice is the trained model's calibrated probability x 100
-- (gold_model_scores, empty without a model), and without a model the
-- anomaly score. The rules' voice is the rules score, and with a model the
-- fraud probability of that score over the model's training period x 100
-- (gold_rule_probabilities): on one scale, a rule that catches fraud on
-- this source outranks the model's doubtful rows, and one that does not
-- sinks below its confident ones. The score is the higher of the two
-- voices, and with a model risk_probability is that voice's probability
-- (the model's alone with a model trained before Gold, whose rules keep
-- their weights): what orders rows the whole points tie (ssa/ranking.py).
-- A row a rule flagged stays an alert whatever its score (no rule loses
-- recall); the learned voice alone makes an alert only from level_medium
-- up.

with

parts as (
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
        anomaly_points,
        amount_doublings,
        day_doublings,
        burst_doublings,
        has_unusual_hour,
        has_new_category,
        has_recent_device,
        file_typical_amount_cents,
        amount_to_file_typical
    from gold_risk_parts
),

model_scores as (
    select
        transaction_id,
        model_version,
        model_probability,
        model_reasons
    from gold_model_scores
),

rule_probabilities as (
    select
        rules_score,
        probability
    from gold_rule_probabilities
),

with_learned as (
    select
        p.*,
        m.model_version,
        m.model_probability,
        m.model_reasons,
        cast(floor(100 * m.model_probability) as bigint) as model_points,
        case
            when m.model_version is not null
                then cast(floor(100 * m.model_probability) as bigint)
            else p.anomaly_points
        end as learned_points,
        case
            when m.model_version is not null and r.probability is not null
                then cast(floor(100 * r.probability) as bigint)
            else p.rules_score
        end as rules_points,
        case
            when m.model_version is null then null
            when r.probability > m.model_probability then r.probability
            else m.model_probability
        end as risk_probability
    from parts as p
    left join model_scores as m
        on p.transaction_id = m.transaction_id
    left join rule_probabilities as r
        on p.rules_score = r.rules_score
),

scored as (
    select
        *,
        case
            when learned_points > rules_points then learned_points
            else rules_points
        end as risk_score,
        case
            when anomaly_flag <> 'Normal' then 1
            when learned_points >= :level_medium then 1
            else 0
        end as is_alert
    from with_learned
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
        rules_points,
        model_version,
        model_probability,
        model_points,
        model_reasons,
        anomaly_points,
        amount_doublings,
        day_doublings,
        burst_doublings,
        has_unusual_hour,
        has_new_category,
        has_recent_device,
        file_typical_amount_cents,
        amount_to_file_typical,
        learned_points,
        risk_score,
        risk_probability,
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
