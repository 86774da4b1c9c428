-- Idempotent load: rows whose key is already in the table are skipped, so a
-- re-run of the same batch adds nothing. Identifiers are filled in by the
-- loader from a fixed list (they cannot be bound parameters).
insert into {table} ({columns})
select {columns}
from {staging} as staged
where not exists (
    select 1
    from {table} as existing
    where existing.{key} = staged.{key}
)
