{#
  What a label means, in one place for the two files that read labels
  (gold/evaluation_rows.sql, model/labels.sql). A generated row is judged against the planted
  ground truth ('synthetic': every generated row is labelled, a row not
  planted is legitimate); any other row against reported fraud
  ('reported': rows someone labelled, and, with
  model.unreported_legitimate_after_days, the rows old enough that a fraud
  among them would have been reported: legitimate); the rest are
  'unlabelled' and never judged. ``settled`` is the settled() CTE's alias.
#}

{% macro settled() -%}
settled as (
    select
        max(created_at_epoch) - :unreported_legitimate_after_seconds
            as before_epoch
    from bronze_transactions
)
{%- endmacro %}

{% macro generated(source) -%}
{{ source }} like 'generator:%'
{%- endmacro %}

{% macro is_settled(created_at, settled) -%}
{{ created_at }} < {{ settled }}.before_epoch
{%- endmacro %}

{% macro label_set(source, reported_id, created_at, settled) -%}
case
            when {{ generated(source) }} then 'synthetic'
            when {{ reported_id }} is not null then 'reported'
            when {{ is_settled(created_at, settled) }} then 'reported'
            else 'unlabelled'
        end
{%- endmacro %}

{% macro is_fraud(source, planted, reported, reported_id, created_at, settled) -%}
case
            when {{ generated(source) }} then coalesce({{ planted }}, 0)
            when {{ reported_id }} is not null then {{ reported }}
            when {{ is_settled(created_at, settled) }} then 0
        end
{%- endmacro %}
