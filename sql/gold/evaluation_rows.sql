-- Every transaction with its rule flags, Gold score (and each of its voices:
-- the rules, the model, the anomaly score) and the label set that judges it: generated rows against the planted ground truth ('synthetic',
-- every generated row labelled: planted or legitimate), the rest against
-- reported fraud ('reported', only rows someone labelled). A row with no
-- label is 'unlabelled': it is never counted as a false positive.

with

silver as (
    select
        transaction_id,
        customer_id,
        created_at_epoch,
        local_day,
        amount_cents,
        source,
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

synthetic as (
    select
        transaction_id,
        scenario,
        is_fraud
    from ground_truth_labels
),

reported as (
    select
        transaction_id,
        is_fraud,
        fraud_type
    from reported_labels
),

risk as (
    select
        transaction_id,
        rules_score,
        model_probability,
        anomaly_points,
        risk_score
    from gold_transaction_risk
),

final as (
    select
        s.transaction_id,
        s.customer_id,
        s.created_at_epoch,
        s.local_day,
        s.amount_cents,
        s.is_impossible_travel,
        s.is_mule_pass_through,
        s.is_card_testing,
        s.is_mule_fan_in,
        s.is_first_time_payee,
        s.is_night_pix_limit,
        s.is_new_device,
        s.is_velocity_burst,
        s.is_structuring,
        s.is_amount_spike,
        coalesce(r.risk_score, 0) as risk_score,
        coalesce(r.rules_score, 0) as rules_score,
        r.model_probability,
        coalesce(r.anomaly_points, 0) as anomaly_points,
        case
            when s.source like 'generator:%' then 'synthetic'
            when p.transaction_id is not null then 'reported'
            else 'unlabelled'
        end as label_set,
        case
            when s.source like 'generator:%' then g.scenario
            else p.fraud_type
        end as scenario,
        case
            when s.source like 'generator:%' then coalesce(g.is_fraud, 0)
            else p.is_fraud
        end as is_fraud
    from silver as s
    left join synthetic as g
        on s.transaction_id = g.transaction_id
    left join reported as p
        on s.transaction_id = p.transaction_id
    left join risk as r
        on s.transaction_id = r.transaction_id
)

select * from final
order by customer_id, created_at_epoch, transaction_id
