-- Gold: the alerts (rows a rule flagged, or the risk model alone put at
-- level_medium or above) with everything an analyst reads: every Silver
-- feature and flag, the score and level from gold_transaction_risk, the
-- model's reasons, the customer's name and masked CPF.
-- data/gold_anomalies.csv is this table.

with

model_alerts as (
    select
        transaction_id
    from gold_model_scores
    where cast(floor(100 * model_probability) as bigint) >= :level_medium
),

transactions as (
    -- The rows a rule flagged, and those the model alone may have raised;
    -- gold_transaction_risk's level says which of them are alerts.
    select
        *
    from silver_transactions
    where anomaly_flag <> 'Normal'
        or transaction_id in (select transaction_id from model_alerts)
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
        risk_score,
        risk_level
    from gold_transaction_risk
    where risk_level <> 'none'
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
        r.risk_score,
        c.name as customer_name,
        -- LGPD: only the middle six digits of the CPF leave the warehouse.
        '***.' || substr(c.cpf, 5, 7) || '-**' as customer_cpf_masked,
        r.risk_level
    from transactions as f
    inner join risk as r
        on f.transaction_id = r.transaction_id
    left join customers as c
        on f.customer_id = c.customer_id
)

select * from final
