-- One file handled (ssa/intake/ingest_log.py, append): first its sequence
-- number, the next in commit order (the caller holds the write lock, so
-- max + 1 cannot race with another writer), then its row. The columns are
-- ingest_log.LOG_COLUMNS.
{% from 'macros/ingestion_log.sql' import log_columns %}

select coalesce(max(log_seq), 0) + 1
from ingestion_log;

insert into ingestion_log (
{{ log_columns() }}
)
values (
{{ log_columns(':') }}
)
