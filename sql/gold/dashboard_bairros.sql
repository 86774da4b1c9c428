-- Dashboard map: per bairro over the whole period, its transactions and
-- amount, the alert queue's rows there (gold_anomalies: a rule's flag, or
-- the learned voice alone at level_medium or above, as the headline counts
-- them) and, beside them, the rows a rule flagged. The alerts are counted
-- from gold_anomalies (a few rows), the rest from gold_bairro_daily (a row
-- per bairro and day), not from every transaction. Counts cast to bigint
-- (portable-sql.md).

with

daily as (
    select
        bairro,
        transactions,
        amount_cents,
        anomalies as flagged
    from gold_bairro_daily
    where bairro is not null
),

places as (
    select
        bairro,
        cast(sum(transactions) as bigint) as transactions,
        cast(sum(amount_cents) as bigint) as amount_cents,
        cast(sum(flagged) as bigint) as flagged
    from daily
    group by bairro
),

alerts as (
    select
        bairro,
        count(*) as alerts
    from gold_anomalies
    where bairro is not null
    group by bairro
),

final as (
    select
        p.bairro,
        p.transactions,
        p.amount_cents,
        cast(coalesce(a.alerts, 0) as bigint) as alerts,
        p.flagged
    from places as p
    left join alerts as a
        on p.bairro = a.bairro
)

select * from final
order by bairro
