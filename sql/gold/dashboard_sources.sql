-- Dashboard: per Bronze lineage (`source`: the synthetic month, or one file
-- and the folder, so the system, it came from), its transactions and the
-- alert queue's rows there (gold_anomalies, as the headline counts them),
-- each split by place: with a bairro (what the map can draw), with no
-- point at all (a source with no place, `places: none`, or a row without
-- lat/lon or bairro), the rest having coordinates but no bairro (outside
-- Salvador's bairros, or no bairro named beside them). The page adds the
-- files of one system up and says why rows are off the map. Counts cast to
-- bigint (portable-sql.md).
{% from 'macros/places.sql' import has_bairro, has_no_point %}

with

silver as (
    select
        source,
        {{ has_bairro() }} as has_bairro,
        {{ has_no_point() }} as has_no_point,
        case when anomaly_flag <> 'Normal' then 1 else 0 end as is_flagged
    from silver_transactions
),

files as (
    select
        source,
        count(*) as transactions,
        cast(sum(has_bairro) as bigint) as transactions_with_bairro,
        cast(sum(has_no_point) as bigint) as transactions_without_point,
        cast(sum(is_flagged) as bigint) as flagged
    from silver
    group by source
),

queue as (
    select
        source,
        {{ has_bairro() }} as has_bairro,
        {{ has_no_point() }} as has_no_point
    from gold_anomalies
),

alerts as (
    select
        source,
        count(*) as alerts,
        cast(sum(has_bairro) as bigint) as alerts_with_bairro,
        cast(sum(has_no_point) as bigint) as alerts_without_point
    from queue
    group by source
),

final as (
    select
        f.source,
        cast(f.transactions as bigint) as transactions,
        f.transactions_with_bairro,
        f.transactions_without_point,
        f.flagged,
        cast(coalesce(a.alerts, 0) as bigint) as alerts,
        cast(coalesce(a.alerts_with_bairro, 0) as bigint) as alerts_with_bairro,
        cast(coalesce(a.alerts_without_point, 0) as bigint) as alerts_without_point
    from files as f
    left join alerts as a
        on f.source = a.source
)

select * from final
order by source
