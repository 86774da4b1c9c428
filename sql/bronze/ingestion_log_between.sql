-- The log rows after_log_seq < log_seq <= up_to_log_seq, for a refresh
-- run's artifact (ssa/intake/ingest_log.py, files_between). The columns are
-- ingest_log.LOG_COLUMNS, in their order.

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
where log_seq > :after_log_seq
    and log_seq <= :up_to_log_seq
order by log_seq
