-- Dashboard headline: the period, its transactions, the alert queue
-- (gold_anomalies: every row Gold raised, the rules' flags and what the
-- learned voice alone put at level_medium or above) and, beside it, what
-- the rules flagged (anomaly_flag <> 'Normal'), and the model version that
-- scored Gold (NULL without one). Sums cast to bigint (portable-sql.md).

with

transactions as (
    select
        count(*) as transactions,
        min(local_day) as first_local_day,
        max(local_day) as last_local_day
    from silver_transactions
),

alerts as (
    select
        count(*) as alerts,
        cast(coalesce(sum(amount_cents), 0) as bigint) as alert_cents,
        avg(risk_score) as mean_risk_score,
        cast(
            coalesce(
                sum(case when risk_level = 'critical' then 1 else 0 end), 0
            ) as bigint
        ) as critical
    from gold_anomalies
),

risk as (
    select
        cast(
            coalesce(
                sum(case when anomaly_flag <> 'Normal' then 1 else 0 end), 0
            ) as bigint
        ) as flagged,
        max(model_version) as model_version
    from gold_transaction_risk
),

final as (
    select
        t.transactions,
        t.first_local_day,
        t.last_local_day,
        a.alerts,
        a.alert_cents,
        a.mean_risk_score,
        a.critical,
        r.flagged,
        r.model_version
    from transactions as t
    cross join alerts as a
    cross join risk as r
)

select * from final
