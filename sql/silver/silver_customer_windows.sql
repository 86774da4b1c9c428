-- Intermediate: per-customer windows over all of a customer's payments.
-- Velocity (payments within the window either side) and the rolling
-- baseline of the previous spike_history_rows amounts, used by the
-- velocity, amount-spike and first-time-payee rules. Narrow on purpose:
-- SQLite's sorter carries every selected column. A row with no customer (a
-- source that names none) has no windows: NULL, which no rule judges, not
-- the counts of every such row taken as one customer's. Such rows never
-- enter a window at all: as one partition of every row of the file they
-- would cost more than all the customers' together.

with

payments as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        amount_cents
    from bronze_transactions
),

windowed as (
    select
        transaction_id,
        count(*) over (
            partition by customer_id
            order by created_at_epoch
            range between :velocity_window_seconds preceding
            and :velocity_window_seconds following
        ) as velocity_count,
        avg(cast(amount_cents as double)) over history as baseline_amount_cents,
        count(*) over history as baseline_rows
    from payments
    where customer_id is not null
    window history as (
        partition by customer_id
        order by created_at_epoch, transaction_id
        rows between :spike_history_rows preceding and 1 preceding
    )
),

final as (
    select * from windowed
    union all
    select
        transaction_id,
        null as velocity_count,
        null as baseline_amount_cents,
        null as baseline_rows
    from bronze_transactions
    where customer_id is null
)

select * from final
