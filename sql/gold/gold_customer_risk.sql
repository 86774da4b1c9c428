-- Gold: one row per customer with activity, for a risk dashboard. The
-- customer score is their worst transaction plus 5 points per further
-- flagged transaction, capped at 100. Payments with no customer (a source
-- that names none) are nobody's: they rank in the alert queue, not here.
-- Sums are cast to bigint: DuckDB sums integers as 128-bit (portable-sql.md).

with

activity as (
    select
        customer_id,
        count(*) as transactions,
        cast(sum(amount_cents) as bigint) as amount_cents,
        max(created_at_epoch) as last_transaction_at_epoch
    from silver_transactions
    where customer_id is not null
    group by customer_id
),

risk as (
    select
        customer_id,
        count(*) as flagged_transactions,
        cast(sum(amount_cents) as bigint) as flagged_amount_cents,
        max(risk_score) as max_risk_score,
        max(created_at_epoch) as last_flagged_at_epoch,
{% for rule in rules %}
        cast(sum(is_{{ rule.name }}) as bigint) as {{ rule.name }}_flags{{ "," if not loop.last }}
{% endfor %}
    from gold_anomalies
    where customer_id is not null
    group by customer_id
),

customers as (
    select
        customer_id,
        name,
        cpf,
        home_bairro
    from bronze_customers
),

joined as (
    select
        a.customer_id,
        c.name as customer_name,
        '***.' || substr(c.cpf, 5, 7) || '-**' as customer_cpf_masked,
        c.home_bairro,
        a.transactions,
        a.amount_cents,
        a.last_transaction_at_epoch,
        coalesce(r.flagged_transactions, 0) as flagged_transactions,
        coalesce(r.flagged_amount_cents, 0) as flagged_amount_cents,
        coalesce(r.max_risk_score, 0) as max_risk_score,
        r.last_flagged_at_epoch,
{% for rule in rules %}
        coalesce(r.{{ rule.name }}_flags, 0) as {{ rule.name }}_flags{{ "," if not loop.last }}
{% endfor %}
    from activity as a
    left join risk as r
        on a.customer_id = r.customer_id
    left join customers as c
        on a.customer_id = c.customer_id
),

final as (
    select
        *,
        case
            when flagged_transactions = 0 then 0
            when max_risk_score + 5 * (flagged_transactions - 1) > 100 then 100
            else max_risk_score + 5 * (flagged_transactions - 1)
        end as customer_risk_score
    from joined
)

select * from final
