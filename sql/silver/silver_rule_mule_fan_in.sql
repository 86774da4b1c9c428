-- Rule: mule fan-in. A payee receiving from many people who never paid it
-- before, within an hour either side, for a sum a market stall's small
-- payments do not reach. Flags the incoming transfers.

with

transfers as (
    select
        transaction_id,
        created_at_epoch,
        payee_id,
        amount_cents,
        is_new_payee
    from silver_pix_transfers
),

with_payee_window as (
    select
        *,
        sum(is_new_payee) over payee_window as new_payers_in_window,
        sum(is_new_payee * amount_cents) over payee_window
            as new_payer_cents_in_window
    from transfers
    window payee_window as (
        partition by payee_id
        order by created_at_epoch
        range between :fan_in_window_seconds preceding
        and :fan_in_window_seconds following
    )
),

final as (
    select
        transaction_id,
        new_payers_in_window,
        new_payer_cents_in_window,
        case
            when is_new_payee = 1
                and new_payers_in_window >= :fan_in_min_new_payers
                and new_payer_cents_in_window >= :fan_in_min_total_cents
                then 1
            else 0
        end as is_mule_fan_in
    from with_payee_window
)

select * from final
where is_mule_fan_in = 1
