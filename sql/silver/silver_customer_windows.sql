-- Intermediate: per-customer windows over all of a customer's payments.
-- Velocity (payments within the window either side) and the rolling
-- baseline of the previous spike_history_rows amounts, used by the
-- velocity, amount-spike and first-time-payee rules. Narrow on purpose:
-- SQLite's sorter carries every selected column. A row with no customer (a
-- source that names none) has no windows: NULL, which no rule judges, not
-- the counts of every such row taken as one customer's.

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
        case
            when customer_id is not null
                then count(*) over (
                    partition by customer_id
                    order by created_at_epoch
                    range between :velocity_window_seconds preceding
                    and :velocity_window_seconds following
                )
        end as velocity_count,
        case
            when customer_id is not null
                then avg(cast(amount_cents as double)) over history
        end as baseline_amount_cents,
        case
            when customer_id is not null then count(*) over history
        end as baseline_rows
    from payments
    window history as (
        partition by customer_id
        order by created_at_epoch, transaction_id
        rows between :spike_history_rows preceding and 1 preceding
    )
)

select * from final
