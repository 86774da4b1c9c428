-- Intermediate: each row's device first use, as the source gave it or, where
-- it gave none, derived from the history: the device's earliest row in the
-- warehouse (a window min over the device, recomputed whenever a file brings
-- a device's rows, earlier ones included).
--
-- A derived first use is known only where the history could have seen the
-- device before: the warehouse saw the row's customer at least
-- :device_history_min_seconds before the device's first row. A history
-- begins with its first file, so every device is "first seen" on the
-- customer's first days; those are not new, only not known
-- (device_first_use_known = 0). The rules that test a device's age judge
-- such rows only once the device is older than the age they test: by then
-- it is that old whatever came before the history. A value the source gave
-- is kept, and known.

with

device_rows as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        channel,
        amount_cents,
        device_id,
        given_first_seen_epoch,
        customer_since_epoch
    from silver_customer_since
),

with_first_row as (
    select
        *,
        min(created_at_epoch) over (partition by device_id)
            as device_first_row_epoch
    from device_rows
),

final as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        channel,
        amount_cents,
        device_id,
        coalesce(given_first_seen_epoch, device_first_row_epoch)
            as device_first_seen_epoch,
        case
            when given_first_seen_epoch is not null then 1
            when device_first_row_epoch - customer_since_epoch
                >= :device_history_min_seconds
                then 1
            else 0
        end as device_first_use_known,
        customer_since_epoch
    from with_first_row
)

select * from final
