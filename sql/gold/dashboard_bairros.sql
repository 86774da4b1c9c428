-- Dashboard map: transactions and anomalies per bairro over the whole period.

with

daily as (
    select
        bairro,
        transactions,
        amount_cents,
        anomalies
    from gold_bairro_daily
    where bairro is not null
),

final as (
    select
        bairro,
        cast(sum(transactions) as bigint) as transactions,
        cast(sum(amount_cents) as bigint) as amount_cents,
        cast(sum(anomalies) as bigint) as anomalies
    from daily
    group by bairro
)

select * from final
order by bairro
