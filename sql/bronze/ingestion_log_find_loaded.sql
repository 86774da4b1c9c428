-- The log row of the first load of this content (ssa/intake/ingest_log.py,
-- find_loaded): a file dropped again with the same bytes is a duplicate of
-- it. The columns are ingest_log.LOG_COLUMNS, in their order.
{% from 'macros/ingestion_log.sql' import log_columns %}

select
{{ log_columns() }}
from ingestion_log
where file_sha256 = :file_sha256
    and status = 'loaded'
order by log_seq
limit 1
