-- Dashboard: alerts per local day and signal, from the alert queue
-- (gold_anomalies): a rule's flag, or 'Normal' where no rule fired and the
-- learned voice (the risk model, or the anomaly score) raised the alert.

with

alerts as (
    select
        local_day,
        anomaly_flag
    from gold_anomalies
),

final as (
    select
        local_day,
        anomaly_flag,
        count(*) as anomalies
    from alerts
    group by local_day, anomaly_flag
)

select * from final
order by local_day, anomaly_flag
