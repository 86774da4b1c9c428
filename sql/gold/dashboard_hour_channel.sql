-- Dashboard: per local hour and channel, the transactions, the alert
-- queue's rows (gold_anomalies, as the headline counts them) and, beside
-- them, the rows a rule flagged. Every alert is a Silver row, so each
-- (hour, channel) with an alert has transactions: a left join keeps them
-- all. Counts cast to bigint (portable-sql.md).

with

silver as (
    select
        local_hour,
        channel,
        case when anomaly_flag <> 'Normal' then 1 else 0 end as is_flagged
    from silver_transactions
),

cells as (
    select
        local_hour,
        channel,
        count(*) as transactions,
        cast(sum(is_flagged) as bigint) as flagged
    from silver
    group by local_hour, channel
),

alerts as (
    select
        local_hour,
        channel,
        count(*) as alerts
    from gold_anomalies
    group by local_hour, channel
),

final as (
    select
        c.local_hour,
        c.channel,
        cast(c.transactions as bigint) as transactions,
        cast(coalesce(a.alerts, 0) as bigint) as alerts,
        c.flagged
    from cells as c
    left join alerts as a
        on c.local_hour = a.local_hour
        and c.channel = a.channel
)

select * from final
order by local_hour, channel
