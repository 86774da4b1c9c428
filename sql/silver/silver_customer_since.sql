-- Intermediate: every row with a device, and since when the warehouse has
-- seen its customer (their earliest row of any kind). What a device's first
-- row is worth as its first use depends on it (silver_device_first_use.sql):
-- a device first seen on a customer's first days may be one they had long
-- before the history began. Apart from the device model because it is a
-- window over the customer, that one over the device: a refresh recomputes
-- each over its own partitions (a backfill of a customer's earlier rows
-- moves their start, and then the devices of all their rows).

with

transactions as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        channel,
        amount_cents,
        device_id,
        device_first_seen_epoch
    from bronze_transactions
),

with_since as (
    select
        *,
        -- A row with no customer (a source that names none) has no history
        -- of its own: never one shared by every such row.
        case
            when customer_id is not null
                then min(created_at_epoch) over (partition by customer_id)
        end as customer_since_epoch
    from transactions
),

final as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        channel,
        amount_cents,
        device_id,
        device_first_seen_epoch as given_first_seen_epoch,
        customer_since_epoch
    from with_since
    where device_id is not null
)

select * from final
