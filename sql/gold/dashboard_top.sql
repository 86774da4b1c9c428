-- Dashboard: the riskiest flagged transactions, in the export's order.

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
    order by risk_score desc, amount_cents desc, transaction_id
    limit :top_rows
)

select * from final
order by risk_score desc, amount_cents desc, transaction_id
