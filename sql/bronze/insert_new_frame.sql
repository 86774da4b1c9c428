-- Idempotent bulk load from a data frame (DuckDB reads the frame in place,
-- Spark receives it as Arrow): rows whose key is already in the table are
-- skipped, so a re-run of the same batch adds nothing. An anti-join, not
-- `on conflict`: Spark's Parquet tables have no keys to conflict on. The
-- loader rejects a batch that repeats a key before it gets here.
-- Identifiers are filled in by the loader from a fixed list.
insert into {table} ({columns})
select {columns}
from {frame} as new_row
where not exists (
    select 1
    from {table} as stored
    where stored.{key} = new_row.{key}
)
