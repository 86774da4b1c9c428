-- Intermediate: Pix between different people (PF to PF, not own accounts),
-- the only payments a mule or a scam victim makes. Per pair (payer, payee):
-- is this the payer's first payment to that payee; with the payer's rolling
-- baseline over all their payments. Rules on the Pix network read this. A
-- transfer with no payer named (a source with no customer) is not one.

with

transfers as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        payee_id,
        amount_cents
    from bronze_transactions
    where channel = 'pix'
        and payer_type = 'PF'
        and payee_type = 'PF'
        and is_same_owner = 0
        and payee_id is not null
        and customer_id is not null
),

with_history as (
    select
        t.*,
        row_number() over (
            partition by t.customer_id, t.payee_id
            order by t.created_at_epoch, t.transaction_id
        ) as pair_sequence,
        w.baseline_amount_cents as payer_baseline_cents,
        w.baseline_rows as payer_history_rows
    from transfers as t
    inner join silver_customer_windows as w
        on t.transaction_id = w.transaction_id
),

final as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        payee_id,
        amount_cents,
        case when pair_sequence = 1 then 1 else 0 end as is_new_payee,
        payer_baseline_cents,
        payer_history_rows
    from with_history
)

select * from final
