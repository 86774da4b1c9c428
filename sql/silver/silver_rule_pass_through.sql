-- Rule: pass-through. An account that sends on most of what it received in
-- the last minutes. Each Pix between people is an inflow for the payee and
-- an outflow for the payer. An outgoing transfer is flagged when the
-- account's outflows around it (the window either side: mules split the
-- forward into a few quick transfers) reach the share of what came in
-- during the window before it.

with

transfers as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        payee_id,
        amount_cents
    from silver_pix_transfers
),

ledger as (
    select
        payee_id as account_id,
        created_at_epoch,
        transaction_id,
        amount_cents as inflow_cents,
        0 as outflow_cents
    from transfers
    union all
    select
        customer_id as account_id,
        created_at_epoch,
        transaction_id,
        0 as inflow_cents,
        amount_cents as outflow_cents
    from transfers
),

with_recent as (
    select
        *,
        sum(inflow_cents) over (
            partition by account_id
            order by created_at_epoch
            range between :pass_through_window_seconds preceding
            and current row
        ) as recent_inflow_cents,
        sum(outflow_cents) over (
            partition by account_id
            order by created_at_epoch
            range between :pass_through_window_seconds preceding
            and :pass_through_window_seconds following
        ) as recent_outflow_cents
    from ledger
),

final as (
    select
        transaction_id,
        recent_inflow_cents,
        recent_outflow_cents,
        1 as is_pass_through
    from with_recent
    where outflow_cents > 0
        and recent_inflow_cents >= :pass_through_min_inflow_cents
        and recent_outflow_cents
        >= :pass_through_min_share * recent_inflow_cents
)

select * from final
