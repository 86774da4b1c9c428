-- The Silver table in a stable order for data/silver_processed.csv.
select *
from silver_transactions
order by created_at_epoch, transaction_id
