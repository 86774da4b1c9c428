-- The rules-only Gold score of every scored transaction, to judge the model
-- beside it on the same held-back rows. A row Gold left out scored 0.

with

final as (
    select
        transaction_id,
        risk_score
    from gold_transaction_risk
)

select * from final
