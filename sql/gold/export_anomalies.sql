-- data/gold_anomalies.csv: every flagged row, highest risk first.
{% from 'macros/alert_order.sql' import alert_order with context %}
select *
from gold_anomalies
order by
{{ alert_order() }}
