-- Idempotent load: rows whose key is already in the table are skipped, so a
-- re-run of the same batch adds nothing. The loader rejects a batch that
-- repeats a key before it gets here, so nothing else is skipped. Identifiers
-- are filled in by the loader from a fixed list (they cannot be bound
-- parameters); the values are bound, one row per execution.
insert into {table} ({columns})
values ({marks})
on conflict ({key}) do nothing
