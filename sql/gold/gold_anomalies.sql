-- Gold: the alerts (rows a rule flagged, or the learned voice alone, the
-- risk model or without one the anomaly score, put at level_medium or
-- above) with everything an analyst reads: every Silver feature and flag,
-- the score and level from gold_transaction_risk, the model's reasons, the
-- customer-relative features the anomaly score's reasons are told from (or,
-- for a row with no customer, its file's typical amount), the customer's
-- name and masked CPF.
-- data/gold_anomalies.csv is this table.

with

alerts as (
    select
        transaction_id
    from gold_transaction_risk
    where risk_level <> 'none'
),

transactions as (
    select
        *
    from silver_transactions
    where transaction_id in (select transaction_id from alerts)
),

risk as (
    select
        transaction_id,
        prev_flagged_at_epoch,
        risk_points,
        rules_score,
        model_version,
        model_probability,
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
        risk_score,
        risk_probability,
        risk_level
    from gold_transaction_risk
    where risk_level <> 'none'
),

features as (
    select
        transaction_id,
        typical_amount_cents,
        amount_to_typical,
        day_spend_to_usual,
        amount_sum_1d_cents,
        tx_count_1h
    from silver_customer_features
),

customers as (
    select
        customer_id,
        name,
        cpf
    from bronze_customers
),

final as (
    select
        f.*,
        r.prev_flagged_at_epoch,
        r.risk_points,
        r.rules_score,
        r.model_version,
        r.model_probability,
        r.model_reasons,
        r.anomaly_points,
        r.amount_doublings,
        r.day_doublings,
        r.burst_doublings,
        r.has_unusual_hour,
        r.has_new_category,
        r.has_recent_device,
        r.file_typical_amount_cents,
        r.amount_to_file_typical,
        x.typical_amount_cents,
        x.amount_to_typical,
        x.day_spend_to_usual,
        x.amount_sum_1d_cents,
        x.tx_count_1h,
        r.risk_score,
        r.risk_probability,
        c.name as customer_name,
        -- LGPD: only the middle six digits of the CPF leave the warehouse.
        '***.' || substr(c.cpf, 5, 7) || '-**' as customer_cpf_masked,
        r.risk_level
    from transactions as f
    inner join risk as r
        on f.transaction_id = r.transaction_id
    left join features as x
        on f.transaction_id = x.transaction_id
    left join customers as c
        on f.customer_id = c.customer_id
)

select * from final
