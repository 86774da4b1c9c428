-- One reported label: new, or replacing the stored one when it differs and
-- is not dated before it (the latest report of a transaction wins; one with
-- no report time arrived later, so it wins too). Values are bound, one row
-- per execution; an unchanged label changes no row, so it is not counted.
insert into reported_labels (
    transaction_id,
    is_fraud,
    fraud_type,
    reported_at_epoch,
    source,
    batch_id,
    ingested_at
)
values (?, ?, ?, ?, ?, ?, ?)
on conflict (transaction_id) do update set
    is_fraud = excluded.is_fraud,
    fraud_type = excluded.fraud_type,
    reported_at_epoch = excluded.reported_at_epoch,
    source = excluded.source,
    batch_id = excluded.batch_id,
    ingested_at = excluded.ingested_at
where (
        reported_labels.is_fraud <> excluded.is_fraud
        or coalesce(reported_labels.fraud_type, '')
        <> coalesce(excluded.fraud_type, '')
    )
    and (
        excluded.reported_at_epoch is null
        or reported_labels.reported_at_epoch is null
        or excluded.reported_at_epoch >= reported_labels.reported_at_epoch
    )
