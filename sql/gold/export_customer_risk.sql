-- data/gold_customer_risk.csv: riskiest customers first.
select *
from gold_customer_risk
order by customer_risk_score desc, flagged_transactions desc, customer_id
