-- Rule: first-time payee, outsized amount (falsa central, WhatsApp scams).
-- A first transfer to a payee, far above the payer's own Pix history, to a
-- payee who collects other such first payments within a day: a gang's
-- mule does, a landlord paid a first rent does not.

with

transfers as (
    select
        transaction_id,
        created_at_epoch,
        payee_id,
        amount_cents,
        is_new_payee,
        payer_baseline_cents,
        payer_history_rows
    from silver_pix_transfers
),

outsized as (
    select
        *,
        case
            when is_new_payee = 1
                and payer_history_rows >= :first_payee_min_history
                and amount_cents >= :first_payee_min_cents
                and amount_cents > :first_payee_ratio * payer_baseline_cents
                then 1
            else 0
        end as is_outsized_first_payment
    from transfers
),

with_payee_context as (
    select
        *,
        sum(is_outsized_first_payment) over (
            partition by payee_id
            order by created_at_epoch
            range between :first_payee_window_seconds preceding
            and :first_payee_window_seconds following
        ) as payee_outsized_first_payments
    from outsized
),

final as (
    select
        transaction_id,
        payer_baseline_cents,
        payee_outsized_first_payments,
        1 as is_first_time_payee
    from with_payee_context
    where is_outsized_first_payment = 1
        and payee_outsized_first_payments >= :first_payee_min_payers
)

select * from final
