-- Intermediate: what the customer did in the day before each payment, in the
-- terms a fraud analyst uses for a card in someone else's hands: how long
-- since their last payment in this category, how many of the last 24 h's
-- payments were at night, and the largest of them against the customer's
-- own typical amount in its category. A stolen card is spent in a burst, so
-- the payments just before a fraudulent one look like it; the features of
-- silver_customer_features describe the row itself against the customer's
-- past, these the day leading up to it (ssa/risk/risk_model.py reads both).
--
-- Only rows BEFORE the current one feed a feature: every frame ends one
-- second before it (tested). NULL means "no such earlier payment". Exact on
-- every engine as silver_customer_features is: log amounts as integer
-- thousandths, one division or exp of such sums per value. A row with no
-- customer has none of these: NULL (unknown), not zero.
{% from 'macros/amounts.sql' import log_amount_milli %}
{% from 'macros/local_time.sql' import is_night, local_hour %}

with

payments as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        amount_cents,
        category
    from bronze_transactions
),

with_parts as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        amount_cents,
        category,
        {{ log_amount_milli('amount_cents') }} as log_amount_milli,
        {{ local_hour('created_at_epoch') }} as local_hour
    from payments
),

in_category as (
    -- The customer's earlier payments in this category over the last month:
    -- when the latest was, and their typical (geometric-mean) amount, which
    -- the row's own amount is then measured against. NULL where the row
    -- names no category.
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        {{ is_night('local_hour') }} as is_night,
        case
            when category is not null
                then max(created_at_epoch) over category_month
        end as prev_in_category_epoch,
        case
            when category is not null
                then amount_cents / nullif(
                    exp(
                        sum(log_amount_milli) over category_month
                        / nullif(1000e0 * count(*) over category_month, 0)
                    ),
                    0
                )
        end as amount_to_category_month
    from with_parts
    where customer_id is not null
    window category_month as (
        partition by customer_id, category
        order by created_at_epoch
        range between :feature_month_seconds preceding and 1 preceding
    )
),

last_day as (
    select
        transaction_id,
        customer_id,
        created_at_epoch - prev_in_category_epoch
            as seconds_since_prev_in_category,
        cast(sum(is_night) over day_before as bigint) as night_tx_count_1d,
        max(amount_to_category_month) over day_before
            as max_amount_to_category_1d
    from in_category
    window day_before as (
        partition by customer_id
        order by created_at_epoch
        range between :feature_day_seconds preceding and 1 preceding
    )
),

final as (
    -- A row with no customer never enters a window (as one partition of
    -- every such row of a file it would cost more than all the customers'
    -- together).
    select
        transaction_id,
        seconds_since_prev_in_category,
        coalesce(night_tx_count_1d, 0) as night_tx_count_1d,
        max_amount_to_category_1d
    from last_day
    union all
    select
        transaction_id,
        null as seconds_since_prev_in_category,
        null as night_tx_count_1d,
        null as max_amount_to_category_1d
    from bronze_transactions
    where customer_id is null
)

select * from final
