-- data/gold_anomalies.csv: every flagged row, highest risk first.
select *
from gold_transaction_risk
where anomaly_flag <> 'Normal'
order by risk_score desc, amount_cents desc, transaction_id
