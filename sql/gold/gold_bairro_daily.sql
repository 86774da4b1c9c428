-- Gold: transactions and anomalies per bairro and local day, for a map or a
-- heat table in the dashboard. Grouped by day first: SQLite sorts the
-- groups, and an integer first key sorts faster than the bairro name.
-- Sums are cast to bigint: DuckDB sums integers as 128-bit (portable-sql.md).

with

silver as (
    select
        bairro,
        local_day,
        amount_cents,
        case when anomaly_flag <> 'Normal' then 1 else 0 end as is_anomaly,
{% for rule in rules %}
        is_{{ rule.name }}{{ "," if not loop.last }}
{% endfor %}
    from silver_transactions
),

final as (
    select
        bairro,
        local_day,
        count(*) as transactions,
        cast(sum(amount_cents) as bigint) as amount_cents,
        cast(sum(is_anomaly) as bigint) as anomalies,
        cast(sum(is_anomaly) as double) / count(*) as anomaly_rate,
{% for rule in rules %}
        cast(sum(is_{{ rule.name }}) as bigint) as {{ rule.name }}_flags{{ "," if not loop.last }}
{% endfor %}
    from silver
    group by local_day, bairro
)

select * from final
