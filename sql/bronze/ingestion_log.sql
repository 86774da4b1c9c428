-- Ingestion bookkeeping for the watched folder (ssa/intake/ingest.py). Portable DDL
-- (varchar/bigint, see sql/portable-sql.md). One row per file
-- handled, written in the same transaction as the file's Bronze rows, so a
-- row here with status 'loaded' means its rows are in Bronze, all of them.

create table if not exists ingestion_log (
    log_seq bigint not null primary key,         -- 1, 2, 3 ... commit order
    file_name varchar(256) not null,             -- as dropped
    -- The system the file came from: its mapping's name (sources/<name>.yaml),
    -- 'native' for the input contract, 'labels' or '<name>/labels' for a
    -- reported-fraud file. Nullable so that a warehouse made before it gains
    -- it in place, its rows kept: NULL there reads as 'unknown'.
    source varchar(256),
    file_sha256 varchar(64) not null,            -- content identity
    file_bytes bigint not null,
    status varchar(16) not null,                 -- loaded / duplicate_file / quarantined
    rows_read bigint not null,                   -- data rows in the file
    rows_loaded bigint not null,                 -- new rows in bronze_transactions
    rows_rejected bigint not null,               -- to <file>.rejected.csv
    rows_duplicate bigint not null,              -- ids already in Bronze
    -- Not payments, by the source mapping's skip (money coming in, a
    -- cancelled transfer): listed in processed/<day>/<file>.skipped.csv.
    -- A log made before it is copied into this table, its rows with 0.
    rows_skipped bigint not null default 0,
    batch_id varchar(64) not null,               -- bronze_transactions.batch_id
    delimiter varchar(1),
    missing_columns varchar(512),                -- optional contract columns absent
    detail varchar(2048),                        -- the error, or what was skipped
    archived_to varchar(1024),                   -- processed/<day>/... or quarantine/...
    rejected_to varchar(1024),                   -- quarantine/<file>.rejected.csv
    started_at varchar(32) not null,             -- ISO-8601 UTC
    finished_at varchar(32) not null,
    check (
        rows_read = rows_loaded + rows_rejected + rows_duplicate + rows_skipped
    )
);

create index if not exists ingestion_log_sha256
    on ingestion_log (file_sha256);

-- One row per Silver/Gold refresh after drops (flows/ingest.py,
-- incoming-refresh): every loaded file with log_seq <= up_to_log_seq is
-- reflected in Silver and Gold. Loaded files above it still wait (a watcher
-- killed between load and refresh catches up when it starts again).
create table if not exists ingestion_refresh (
    refresh_seq bigint not null primary key,
    after_log_seq bigint not null,
    up_to_log_seq bigint not null,
    files bigint not null,
    rows_loaded bigint not null,
    customers bigint not null,
    started_at varchar(32) not null,             -- ISO-8601 UTC
    finished_at varchar(32) not null
);
