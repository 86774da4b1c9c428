-- The log row of the first load of this content (ssa/intake/ingest_log.py,
-- find_loaded): a file dropped again with the same bytes is a duplicate of
-- it. The columns are ingest_log.LOG_COLUMNS, in their order.

select
    log_seq,
    file_name,
    file_sha256,
    file_bytes,
    status,
    rows_read,
    rows_loaded,
    rows_rejected,
    rows_duplicate,
    rows_skipped,
    batch_id,
    delimiter,
    missing_columns,
    detail,
    archived_to,
    rejected_to,
    started_at,
    finished_at
from ingestion_log
where file_sha256 = :file_sha256
    and status = 'loaded'
order by log_seq
limit 1
