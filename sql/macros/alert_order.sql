{#- The alert queue's order (ssa/ranking.py, QUEUE_ORDER): the risk score,
    then the finer figures behind it, highest first, then the id. A row
    without a model has no probabilities, and they rank below any value. -#}
{% macro alert_order() %}
{% for column in queue_order %}
    {{ column }} desc nulls last,
{% endfor %}
    transaction_id
{%- endmacro %}
