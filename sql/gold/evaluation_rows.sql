-- Rows the detection report needs: every flagged row and every planted row,
-- with the rule flags and the planted label (NULL: an ordinary legit row).

with

silver as (
    select
        transaction_id,
        is_impossible_travel,
        is_mule_pass_through,
        is_card_testing,
        is_mule_fan_in,
        is_first_time_payee,
        is_night_pix_limit,
        is_new_device,
        is_velocity_burst,
        is_structuring,
        is_amount_spike,
        anomaly_flag
    from silver_transactions
),

labels as (
    select
        transaction_id,
        scenario,
        is_fraud
    from ground_truth_labels
),

risk as (
    select
        transaction_id,
        risk_score
    from gold_transaction_risk
),

final as (
    select
        s.transaction_id,
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
        l.scenario,
        coalesce(l.is_fraud, 0) as is_fraud
    from silver as s
    left join labels as l
        on s.transaction_id = l.transaction_id
    left join risk as r
        on s.transaction_id = r.transaction_id
    where s.anomaly_flag <> 'Normal'
        or l.transaction_id is not null
)

select * from final
