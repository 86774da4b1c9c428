-- Gold: the flagged transactions with everything an analyst reads: every
-- Silver feature and flag, the score and level from gold_transaction_risk,
-- the customer's name and masked CPF. data/gold_anomalies.csv is this table.

with

flagged as (
    select
        *
    from silver_transactions
    where anomaly_flag <> 'Normal'
),

risk as (
    select
        transaction_id,
        prev_flagged_at_epoch,
        risk_points,
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
        r.risk_score,
        c.name as customer_name,
        -- LGPD: only the middle six digits of the CPF leave the warehouse.
        '***.' || substr(c.cpf, 5, 7) || '-**' as customer_cpf_masked,
        r.risk_level
    from flagged as f
    inner join risk as r
        on f.transaction_id = r.transaction_id
    left join customers as c
        on f.customer_id = c.customer_id
)

select * from final
