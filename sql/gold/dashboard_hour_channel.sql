-- Dashboard: transactions and anomalies per local hour and channel.

with

silver as (
    select
        local_hour,
        channel,
        case when anomaly_flag <> 'Normal' then 1 else 0 end as is_anomaly
    from silver_transactions
),

final as (
    select
        local_hour,
        channel,
        count(*) as transactions,
        cast(sum(is_anomaly) as bigint) as anomalies
    from silver
    group by local_hour, channel
)

select * from final
order by local_hour, channel
