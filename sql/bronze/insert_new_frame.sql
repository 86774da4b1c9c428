-- Idempotent bulk load from a data frame (the DuckDB engine reads the frame
-- in place): rows whose key is already in the table are skipped, so a
-- re-run of the same batch adds nothing. The loader rejects a batch that
-- repeats a key before it gets here. Identifiers are filled in by the
-- loader from a fixed list.
insert into {table} ({columns})
select {columns}
from {frame}
on conflict ({key}) do nothing
