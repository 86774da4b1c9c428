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
--
-- And how many other customers used the device before the row
-- (device_other_customers): a phone or browser many accounts pay from is a
-- device farm, a mule ring or a takeover from one machine, whether or not
-- the customers have a history. It counts the customers whose first row on
-- the device is strictly earlier than the row, less the row's own: a
-- running sum over each (device, customer) pair's first row, since SQLite
-- has no distinct in a window aggregate. Only earlier rows feed it, so a
-- later row never changes it; NULL on a row with no customer.

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

with_customer_first as (
    -- Each customer's first row on the device, and when it was (a rows
    -- frame: SQLite's default range frame costs twice the time here).
    select
        *,
        row_number() over device_customer as device_customer_row,
        min(created_at_epoch) over device_customer
            as device_customer_first_epoch
    from device_rows
    window device_customer as (
        partition by device_id, customer_id
        order by created_at_epoch, transaction_id
        rows between unbounded preceding and current row
    )
),

with_first_row as (
    -- One window over the rows of the device strictly earlier than the row
    -- (the frame ends a second before it, epoch seconds): the device's
    -- earliest row (the row itself where none is earlier) and the
    -- customers whose first row on it is among them.
    select
        *,
        coalesce(min(created_at_epoch) over device_before, created_at_epoch)
            as device_first_row_epoch,
        cast(coalesce(sum(
            case
                when customer_id is not null and device_customer_row = 1
                    then 1
                else 0
            end
        ) over device_before, 0) as bigint) as customers_before
    from with_customer_first
    window device_before as (
        partition by device_id
        order by created_at_epoch
        range between unbounded preceding and 1 preceding
    )
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
        case
            when customer_id is not null
                then customers_before - case
                    when device_customer_first_epoch < created_at_epoch then 1
                    else 0
                end
        end as device_other_customers,
        customer_since_epoch
    from with_first_row
)

select * from final
