-- Dashboard: the riskiest flagged transactions, in the export's order.
{% from 'macros/alert_order.sql' import alert_order with context %}

with

flagged as (
    select
        *
    from gold_anomalies
),

final as (
    select
        *
    from flagged
    order by
{{ alert_order() }}
    limit :top_rows
)

select * from final
order by
{{ alert_order() }}
