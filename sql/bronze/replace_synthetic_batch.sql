-- The synthetic month is one snapshot of a simulated world: a run with
-- other generator settings replaces the previous one instead of mixing two
-- worlds that share customer ids. Rows from other sources (CSV drops) stay.
-- A re-run with the same settings has the same batch id and deletes nothing.

delete from ground_truth_labels
where transaction_id in (
    select transaction_id
    from bronze_transactions
    where source like 'generator:%'
        and batch_id <> :batch_id
);

delete from bronze_transactions
where source like 'generator:%'
    and batch_id <> :batch_id;

delete from bronze_customers
where source like 'generator:%'
    and batch_id <> :batch_id;

delete from bronze_merchants
where source like 'generator:%'
    and batch_id <> :batch_id
