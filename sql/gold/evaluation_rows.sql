-- Every transaction with its rule flags, Gold score (the probability behind
-- it, and each of its voices: the rules, the model, the anomaly score) and
-- the label set that judges it (sql/macros/labels.sql): generated rows
-- against the planted ground truth, the rest against reported fraud. A row
-- with no label is 'unlabelled': it is never counted as a false positive.
{% from 'macros/labels.sql' import generated, is_fraud, label_set, settled %}

with

silver as (
    select
        transaction_id,
        customer_id,
        created_at_epoch,
        local_day,
        amount_cents,
        auth_status,
        source,
{% for rule in rules %}
        is_{{ rule.name }}{{ "," if not loop.last }}
{% endfor %}
    from silver_transactions
),

synthetic as (
    select
        transaction_id,
        scenario,
        is_fraud
    from ground_truth_labels
),

reported as (
    select
        transaction_id,
        is_fraud,
        fraud_type
    from reported_labels
),

{{ settled() }},

risk as (
    select
        transaction_id,
        rules_score,
        model_probability,
        anomaly_points,
        risk_score,
        risk_probability
    from gold_transaction_risk
),

final as (
    select
        s.transaction_id,
        s.customer_id,
        s.created_at_epoch,
        s.local_day,
        s.amount_cents,
{% for rule in rules %}
        s.is_{{ rule.name }},
{% endfor %}
        coalesce(r.risk_score, 0) as risk_score,
        r.risk_probability,
        coalesce(r.rules_score, 0) as rules_score,
        r.model_probability,
        coalesce(r.anomaly_points, 0) as anomaly_points,
        {{ label_set('s.source', 'p.transaction_id', 's.created_at_epoch', 's.auth_status', 'c') }} as label_set,
        case
            when {{ generated('s.source') }} then g.scenario
            else p.fraud_type
        end as scenario,
        {{ is_fraud('s.source', 'g.is_fraud', 'p.is_fraud', 'p.transaction_id', 's.created_at_epoch', 's.auth_status', 'c') }} as is_fraud
    from silver as s
    cross join settled as c
    left join synthetic as g
        on s.transaction_id = g.transaction_id
    left join reported as p
        on s.transaction_id = p.transaction_id
    left join risk as r
        on s.transaction_id = r.transaction_id
)

-- The id only orders the rows: ten million of them would be ~0.7 GB of
-- strings in the report's frame, which never reads them.
select
    customer_id,
    created_at_epoch,
    local_day,
    amount_cents,
{% for rule in rules %}
    is_{{ rule.name }},
{% endfor %}
    risk_score,
    risk_probability,
    rules_score,
    model_probability,
    anomaly_points,
    label_set,
    scenario,
    is_fraud
from final
-- Rows with no customer last, on every engine (they order NULLs apart).
order by
    case when customer_id is null then 1 else 0 end,
    customer_id,
    created_at_epoch,
    transaction_id
