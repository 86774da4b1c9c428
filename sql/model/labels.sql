-- The labels the risk model learns from and is judged on, one row per
-- labelled transaction, in the detection report's label sets
-- (sql/macros/labels.sql, as gold/evaluation_rows.sql judges them). Only
-- model training and evaluation read this; detection never does. The time comes along so that the training flow
-- can check its windows hold fraud labels before it reads any feature.
{% from 'macros/labels.sql' import is_fraud, label_set, settled %}

with

transactions as (
    select
        transaction_id,
        created_at_epoch,
        auth_status,
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

{{ settled() }},

final as (
    select
        t.transaction_id,
        t.created_at_epoch,
        {{ is_fraud('t.source', 'g.is_fraud', 'p.is_fraud', 'p.transaction_id', 't.created_at_epoch', 't.auth_status', 'c') }} as is_fraud,
        {{ label_set('t.source', 'p.transaction_id', 't.created_at_epoch', 't.auth_status', 'c') }} as label_set
    from transactions as t
    cross join settled as c
    left join synthetic as g
        on t.transaction_id = g.transaction_id
    left join reported as p
        on t.transaction_id = p.transaction_id
)

select * from final
where label_set <> 'unlabelled'
