{#
  What a label means, in one place for the two files that read labels
  (gold/evaluation_rows.sql, model/labels.sql). A generated row is judged against the planted
  ground truth ('synthetic': every generated row is labelled, a row not
  planted is legitimate); any other row against reported fraud
  ('reported': only rows someone labelled); the rest are 'unlabelled' and
  never judged.
#}

{% macro generated(source) -%}
{{ source }} like 'generator:%'
{%- endmacro %}

{% macro label_set(source, reported_id) -%}
case
            when {{ generated(source) }} then 'synthetic'
            when {{ reported_id }} is not null then 'reported'
            else 'unlabelled'
        end
{%- endmacro %}

{% macro is_fraud(source, planted, reported) -%}
case
            when {{ generated(source) }} then coalesce({{ planted }}, 0)
            else {{ reported }}
        end
{%- endmacro %}
