-- The labels the risk model learns from and is judged on, one row per
-- labelled transaction, in the detection report's label sets
-- (gold/evaluation_rows.sql): generated rows against the planted ground
-- truth ('synthetic', every generated row labelled: a row not planted is
-- legitimate), the rest against reported fraud ('reported', only rows
-- someone labelled). Only model training and evaluation read this;
-- detection never does. The time comes along so that the training flow
-- can check its windows hold fraud labels before it reads any feature.

with

transactions as (
    select
        transaction_id,
        created_at_epoch,
        source
    from bronze_transactions
),

synthetic as (
    select
        transaction_id,
        is_fraud
    from ground_truth_labels
),

reported as (
    select
        transaction_id,
        is_fraud
    from reported_labels
),

final as (
    select
        t.transaction_id,
        t.created_at_epoch,
        case
            when t.source like 'generator:%' then coalesce(g.is_fraud, 0)
            else p.is_fraud
        end as is_fraud,
        case
            when t.source like 'generator:%' then 'synthetic'
            else 'reported'
        end as label_set
    from transactions as t
    left join synthetic as g
        on t.transaction_id = g.transaction_id
    left join reported as p
        on t.transaction_id = p.transaction_id
    where t.source like 'generator:%'
        or p.transaction_id is not null
)

select * from final
