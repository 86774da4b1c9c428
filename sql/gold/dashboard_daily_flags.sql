-- Dashboard: flagged transactions per local day and flag.

with

flagged as (
    select
        local_day,
        anomaly_flag
    from gold_transaction_risk
    where anomaly_flag <> 'Normal'
),

final as (
    select
        local_day,
        anomaly_flag,
        count(*) as anomalies
    from flagged
    group by local_day, anomaly_flag
)

select * from final
order by local_day, anomaly_flag
