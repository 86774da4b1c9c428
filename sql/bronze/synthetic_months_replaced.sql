-- The synthetic transactions replace_synthetic_batch.sql is about to delete
-- (a month made with other generator settings), counted first so the run
-- says what it replaced.

select
    cast(count(*) as bigint) as transactions
from bronze_transactions
where source like 'generator:%'
    and batch_id <> :batch_id
