-- Intermediate: Pix between different people (PF to PF, not own accounts),
-- the only payments a mule or a scam victim makes. Per pair (payer, payee):
-- is this the payer's first payment to that payee; per payer: the average
-- of their previous transfers. Rules on the Pix network read this table.

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
        and payee_type = 'PF'
        and is_same_owner = 0
        and payee_id is not null
),

with_history as (
    select
        *,
        row_number() over (
            partition by customer_id, payee_id
            order by created_at_epoch, transaction_id
        ) as pair_sequence,
        avg(cast(amount_cents as double)) over payer_history
            as payer_baseline_cents,
        count(*) over payer_history as payer_history_rows
    from transfers
    window payer_history as (
        partition by customer_id
        order by created_at_epoch, transaction_id
        rows between :spike_history_rows preceding and 1 preceding
    )
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
