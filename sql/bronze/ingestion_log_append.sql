-- One file handled (ssa/intake/ingest_log.py, append): first its sequence
-- number, the next in commit order (the caller holds the write lock, so
-- max + 1 cannot race with another writer), then its row. The columns are
-- ingest_log.LOG_COLUMNS.

select coalesce(max(log_seq), 0) + 1
from ingestion_log;

insert into ingestion_log (
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
)
values (
    :log_seq,
    :file_name,
    :file_sha256,
    :file_bytes,
    :status,
    :rows_read,
    :rows_loaded,
    :rows_rejected,
    :rows_duplicate,
    :rows_skipped,
    :batch_id,
    :delimiter,
    :missing_columns,
    :detail,
    :archived_to,
    :rejected_to,
    :started_at,
    :finished_at
)
