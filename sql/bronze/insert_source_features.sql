-- A drop's source features (staged in temp.new_source_features, one row
-- per transaction: the loader rejects a repeated id) for the rows this
-- batch put into Bronze, and no others: an id Bronze held before (a
-- duplicate, a conflict) is another file's transaction, so it keeps that
-- file's features, or none. First the count of what the insert adds
-- (engines do not all count the rows of an insert), then the insert.

select count(*)
from temp.new_source_features as n
where exists (
    select 1
    from bronze_transactions as t
    where t.transaction_id = n.transaction_id
        and t.batch_id = :batch_id
)
and not exists (
    select 1
    from bronze_source_features as f
    where f.transaction_id = n.transaction_id
);

insert into bronze_source_features (
    transaction_id,
    source,
    batch_id,
    features_json
)
select
    n.transaction_id,
    n.source,
    n.batch_id,
    n.features_json
from temp.new_source_features as n
where exists (
    select 1
    from bronze_transactions as t
    where t.transaction_id = n.transaction_id
        and t.batch_id = :batch_id
)
and not exists (
    select 1
    from bronze_source_features as f
    where f.transaction_id = n.transaction_id
)
