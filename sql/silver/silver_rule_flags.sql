-- Intermediate: the rows any of the sparse rules flagged, with the features
-- those rules computed, one row per transaction. The rule models hold a few
-- hundred rows each; silver_transactions joins this one table instead of
-- one per rule (on 1M rows each join is a lookup per row). A flag is NULL
-- where its rule did not fire; silver_transactions makes it 0, as it does
-- for the rows no sparse rule flagged.
-- The sparse rules and what each carries are their entries in ssa/rules.py
-- (a Jinja loop: the file is rendered before it runs).

with

flagged as (
{% for rule in sparse_rules %}
    {% if not loop.first %}
    union
    {% endif %}
    select transaction_id from {{ rule.table }}
{% endfor %}
),

final as (
    select
        f.transaction_id,
{% for rule in sparse_rules %}
{% for feature in rule.carries %}
        {{ rule.table }}.{{ feature }},
{% endfor %}
{% endfor %}
{% for rule in sparse_rules %}
        {{ rule.table }}.{{ rule.flag }} as is_{{ rule.name }}{{ "," if not loop.last }}
{% endfor %}
    from flagged as f
{% for rule in sparse_rules %}
    left join {{ rule.table }}
        on f.transaction_id = {{ rule.table }}.transaction_id
{% endfor %}
)

select * from final
