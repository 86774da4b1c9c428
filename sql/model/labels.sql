-- The labels the risk model learns from and is judged on, one row per
-- labelled transaction: reported fraud (reported_labels) wherever a report
-- exists, and for the generator's own rows the planted ground truth (every
-- generated row is labelled: a row not planted is legitimate). Only model
-- training and evaluation read this; detection never does.

with

reported as (
    select
        transaction_id,
        is_fraud,
        'reported' as label_set
    from reported_labels
),

generated as (
    select
        b.transaction_id,
        coalesce(g.is_fraud, 0) as is_fraud,
        'ground_truth' as label_set
    from bronze_transactions as b
    left join ground_truth_labels as g
        on b.transaction_id = g.transaction_id
    where b.source like 'generator:%'
        and b.transaction_id not in (select transaction_id from reported)
),

final as (
    select * from reported
    union all
    select * from generated
)

select * from final
