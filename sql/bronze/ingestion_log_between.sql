-- The log rows after_log_seq < log_seq <= up_to_log_seq, for a refresh
-- run's artifact (ssa/intake/ingest_log.py, files_between). The columns are
-- ingest_log.LOG_COLUMNS, in their order.
{% from 'macros/ingestion_log.sql' import log_columns %}

select
{{ log_columns() }}
from ingestion_log
where log_seq > :after_log_seq
    and log_seq <= :up_to_log_seq
order by log_seq
