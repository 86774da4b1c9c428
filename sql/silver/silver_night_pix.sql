-- Intermediate: the Pix the night limit counts (Res. BCB 142/2021): PF to
-- PF transfers to other owners inside the payer's night window (20h-6h, or
-- 22h-6h for customers who chose it). Payments to companies and between own
-- accounts never count. Per payer and night: running total, night total and
-- count, for the night-limit and structuring rules; a Pix with no payer
-- named has no night of its own to count in.
{% from 'macros/local_time.sql' import local_day, local_hour %}

with

pix_to_people as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        amount_cents
    from bronze_transactions
    where channel = 'pix'
        and payer_type = 'PF'
        and payee_type = 'PF'
        and is_same_owner = 0
        and customer_id is not null
),

customers as (
    select
        customer_id,
        night_start_hour,
        night_limit_cents
    from bronze_customers
),

with_local_time as (
    select
        p.*,
        coalesce(
            c.night_start_hour, :night_start_hour_default
        ) as night_start_hour,
        coalesce(
            c.night_limit_cents, :night_limit_cents_default
        ) as night_limit_cents,
        {{ local_hour('p.created_at_epoch') }} as local_hour,
        -- Shifting by night_end_hour puts one whole night in one key.
        {{ local_day('p.created_at_epoch - :night_end_hour * 3600') }}
            as night_key
    from pix_to_people as p
    left join customers as c
        on p.customer_id = c.customer_id
),

night_only as (
    select
        *
    from with_local_time
    where local_hour >= night_start_hour
        or local_hour < :night_end_hour
),

final as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        amount_cents,
        night_key,
        night_limit_cents,
        cast(sum(amount_cents) over (
            partition by customer_id, night_key
            order by created_at_epoch, transaction_id
            rows between unbounded preceding and current row
        ) as bigint) as night_running_cents,
        cast(sum(amount_cents) over (
            partition by customer_id, night_key
        ) as bigint) as night_total_cents,
        count(*) over (
            partition by customer_id, night_key
        ) as night_transfers
    from night_only
)

select * from final
