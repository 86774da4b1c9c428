-- Reported labels of a drop (staged in temp.new_labels, one row per
-- transaction: the loader rejects a repeated id) merged into the stored
-- ones, set by set so that every engine runs it the same way: a stored
-- label is replaced when the new one differs and is not dated before it
-- (the latest report of a transaction wins; one with no report time
-- arrived later, so it wins too). Unchanged labels change no row. Between
-- the replace and the insert, the count of what the insert adds: the
-- labels that are new or changed.

delete from reported_labels
where transaction_id in (
    select n.transaction_id
    from temp.new_labels as n
    inner join reported_labels as r
        on n.transaction_id = r.transaction_id
    where (
            r.is_fraud <> n.is_fraud
            or coalesce(r.fraud_type, '') <> coalesce(n.fraud_type, '')
        )
        and (
            n.reported_at_epoch is null
            or r.reported_at_epoch is null
            or n.reported_at_epoch >= r.reported_at_epoch
        )
);

select count(*)
from temp.new_labels as n
where not exists (
    select 1
    from reported_labels as r
    where r.transaction_id = n.transaction_id
);

insert into reported_labels (
    transaction_id,
    is_fraud,
    fraud_type,
    reported_at_epoch,
    source,
    batch_id,
    ingested_at
)
select
    n.transaction_id,
    n.is_fraud,
    n.fraud_type,
    n.reported_at_epoch,
    n.source,
    n.batch_id,
    n.ingested_at
from temp.new_labels as n
where not exists (
    select 1
    from reported_labels as r
    where r.transaction_id = n.transaction_id
)
