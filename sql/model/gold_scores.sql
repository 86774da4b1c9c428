-- The Gold scores that need no model, for every scored transaction, to judge
-- the model beside them on the same held-back rows: the rules' own points,
-- the anomaly score, and what Gold scores without a model (the higher of
-- the two, as gold_transaction_risk.sql combines them). A row Gold left out
-- scored 0.

with

risk as (
    select
        transaction_id,
        rules_score,
        anomaly_points
    from gold_transaction_risk
),

final as (
    select
        transaction_id,
        rules_score,
        anomaly_points,
        case
            when anomaly_points > rules_score then anomaly_points
            else rules_score
        end as no_label_score
    from risk
)

select * from final
