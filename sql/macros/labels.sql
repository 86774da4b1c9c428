{#
  What a label means, in one place for the two files that read labels
  (gold/evaluation_rows.sql, model/labels.sql). A generated row is judged against the planted
  ground truth ('synthetic': every generated row is labelled, a row not
  planted is legitimate); any other row against reported fraud
  ('reported': rows someone labelled); the rest are 'unlabelled' and never
  judged. With model.unreported_legitimate_after_days (``settles``), the
  reports are taken as complete for the payments that many days older than
  the latest one: such a payment with no report is legitimate, and a newer
  payment is not judged either way, reported or not (its silence is not
  final yet, and its reports alone would make its days fraud only). A
  declined attempt is never taken as legitimate by its silence: no money
  moved, so no chargeback or MED report can ever come for it (card testing
  is declines); it is judged only where a report names it.
  ``settled`` is the alias of the settled() CTE.
#}

{% macro settled() -%}
settled as (
    select
        max(created_at_epoch) - :unreported_legitimate_after_seconds
            as before_epoch,
        :settle_unreported as settles
    from bronze_transactions
)
{%- endmacro %}

{% macro generated(source) -%}
{{ source }} like 'generator:%'
{%- endmacro %}

{% macro unsettled(created_at, settled) -%}
{{ settled }}.settles = 1 and {{ created_at }} >= {{ settled }}.before_epoch
{%- endmacro %}

{% macro silent_legitimate(auth_status, settled) -%}
{{ settled }}.settles = 1 and coalesce({{ auth_status }}, '') <> 'declined'
{%- endmacro %}

{% macro label_set(source, reported_id, created_at, auth_status, settled) -%}
case
            when {{ generated(source) }} then 'synthetic'
            when {{ unsettled(created_at, settled) }} then 'unlabelled'
            when {{ reported_id }} is not null then 'reported'
            when {{ silent_legitimate(auth_status, settled) }} then 'reported'
            else 'unlabelled'
        end
{%- endmacro %}

{% macro is_fraud(source, planted, reported, reported_id, created_at, auth_status, settled) -%}
case
            when {{ generated(source) }} then coalesce({{ planted }}, 0)
            when {{ unsettled(created_at, settled) }} then null
            when {{ reported_id }} is not null then {{ reported }}
            when {{ silent_legitimate(auth_status, settled) }} then 0
        end
{%- endmacro %}
