-- Intermediate: per-customer windows over all of a customer's payments.
-- Velocity (payments within the window either side) and the rolling
-- baseline of the previous spike_history_rows amounts, used by the
-- velocity, amount-spike and first-time-payee rules. Narrow on purpose:
-- SQLite's sorter carries every selected column.

with

payments as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        amount_cents
    from bronze_transactions
),

final as (
    select
        transaction_id,
        count(*) over (
            partition by customer_id
            order by created_at_epoch
            range between :velocity_window_seconds preceding
            and :velocity_window_seconds following
        ) as velocity_count,
        avg(cast(amount_cents as double)) over history
            as baseline_amount_cents,
        count(*) over history as baseline_rows
    from payments
    window history as (
        partition by customer_id
        order by created_at_epoch, transaction_id
        rows between :spike_history_rows preceding and 1 preceding
    )
)

select * from final
