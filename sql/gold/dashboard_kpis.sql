-- Dashboard headline: the period, its transactions and what Gold flagged.
-- Flagged means anomaly_flag <> 'Normal', whether or not Gold also keeps
-- the unflagged rows with score 0. Sums cast to bigint (portable-sql.md).

with

transactions as (
    select
        count(*) as transactions,
        min(local_day) as first_local_day,
        max(local_day) as last_local_day
    from silver_transactions
),

flagged as (
    select
        count(*) as flagged,
        cast(coalesce(sum(amount_cents), 0) as bigint) as flagged_cents,
        avg(risk_score) as mean_risk_score,
        cast(
            coalesce(
                sum(case when risk_level = 'critical' then 1 else 0 end), 0
            ) as bigint
        ) as critical
    from gold_transaction_risk
    where anomaly_flag <> 'Normal'
),

final as (
    select
        t.transactions,
        t.first_local_day,
        t.last_local_day,
        f.flagged,
        f.flagged_cents,
        f.mean_risk_score,
        f.critical
    from transactions as t
    cross join flagged as f
)

select * from final
