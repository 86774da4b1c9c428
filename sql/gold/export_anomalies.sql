-- data/gold_anomalies.csv: every flagged row, highest risk first.
select *
from gold_anomalies
order by risk_score desc, amount_cents desc, transaction_id
