-- One Silver/Gold refresh after drops (ssa/intake/ingest_log.py,
-- record_refresh): first its sequence number and what it took in (the
-- loaded files after_log_seq < log_seq <= up_to_log_seq and their new
-- rows), then its row.

select
    (select coalesce(max(refresh_seq), 0) + 1 from ingestion_refresh),
    count(*),
    coalesce(sum(rows_loaded), 0)
from ingestion_log
where status = 'loaded'
    and log_seq > :after_log_seq
    and log_seq <= :up_to_log_seq;

insert into ingestion_refresh (
    refresh_seq,
    after_log_seq,
    up_to_log_seq,
    files,
    rows_loaded,
    customers,
    started_at,
    finished_at
)
values (
    :refresh_seq,
    :after_log_seq,
    :up_to_log_seq,
    :files,
    :rows_loaded,
    :customers,
    :started_at,
    :finished_at
)
