-- Rule: new device (Res. BCB 403/2024, in force 01/11/2024). On its first
-- day a device never used for Pix may send at most R$ 200 per transaction
-- and R$ 1.000 in total. Rows without a device are not judged (a missing
-- field never fires a rule on a guess), nor the first day of a device whose
-- first use is not known yet (silver_device_first_use.sql: derived from a
-- history too short to have seen it before).

with

first_day_pix as (
    select
        transaction_id,
        created_at_epoch,
        device_id,
        amount_cents
    from silver_device_first_use
    where channel = 'pix'
        and device_first_use_known = 1
        and created_at_epoch >= device_first_seen_epoch
        and created_at_epoch - device_first_seen_epoch
        < :new_device_window_seconds
),

with_day_total as (
    select
        *,
        sum(amount_cents) over (
            partition by device_id
            order by created_at_epoch, transaction_id
            rows between unbounded preceding and current row
        ) as device_first_day_cents
    from first_day_pix
),

final as (
    select
        transaction_id,
        device_first_day_cents,
        1 as is_new_device
    from with_day_total
    where amount_cents > :new_device_max_tx_cents
        or device_first_day_cents > :new_device_max_day_cents
)

select * from final
