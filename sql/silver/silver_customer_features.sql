-- Intermediate: each payment against the customer's own past, the features
-- the risk model learns from (ssa/risk/risk_model.py). Only rows BEFORE the
-- current one feed a feature: every frame ends one second before it, so a
-- later row never changes an earlier row's values (tested).
-- NULL means "no history to compare with", never zero; on a row with no
-- customer (a source that names none) every customer-relative feature is
-- NULL: unknown, not a first payment of a customer of one row, nor the
-- history of every such row taken as one customer's.
--
-- Portable and exact on every engine: amounts are summed as integer cents,
-- places as integer microdegrees and log amounts as integer thousandths, and
-- every mean is one division of such sums (a sliding sum of doubles differs
-- in its last bits from one engine to another). The typical amount is the
-- geometric mean of the last 30 days' payments: a robust stand-in for their
-- median, which SQLite has no window function for.
{% from 'macros/amounts.sql' import log_amount_milli %}
{% from 'macros/local_time.sql' import is_night, local_hour %}

with

payments as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        amount_cents,
        category,
        coalesce(merchant_id, payee_id) as counterparty_id,
        lat,
        lon
    from bronze_transactions
),

with_parts as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        amount_cents,
        category,
        counterparty_id,
        {{ local_hour('created_at_epoch') }} as local_hour,
        {{ log_amount_milli('amount_cents') }} as log_amount_milli,
        cast(floor(lat * 1e6 + 0.5) as bigint) as lat_micro,
        cast(floor(lon * 1e6 + 0.5) as bigint) as lon_micro
    from payments
),

with_habit_parts as (
    select
        *,
        {{ is_night('local_hour') }} as is_night,
        -- The hour as a point on the 24-hour clock face, in integer
        -- thousandths: summed exactly, its mean over the earlier payments
        -- says when the customer usually pays (23h and 1h are close).
        cast(floor(cos(2 * pi() * local_hour / 24e0) * 1000 + 0.5) as bigint)
            as hour_x_milli,
        cast(floor(sin(2 * pi() * local_hour / 24e0) * 1000 + 0.5) as bigint)
            as hour_y_milli
    from with_parts
),

counterparty_history as (
    -- How often the customer paid this category and this merchant or payee
    -- before: 0 is a first time. NULL where the row names none. The windows
    -- below carry only the columns they need: SQLite's sorter carries every
    -- selected column through every pass.
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        amount_cents,
        local_hour,
        log_amount_milli,
        lat_micro,
        lon_micro,
        is_night,
        hour_x_milli,
        hour_y_milli,
        case
            when category is not null
                then count(*) over (
                    partition by customer_id, category
                    order by created_at_epoch
                    range between unbounded preceding and 1 preceding
                )
        end as category_rows_before,
        -- The same window (one sort): the customer's log amounts in this
        -- category before, for their typical amount in it.
        case
            when category is not null
                then cast(sum(log_amount_milli) over (
                    partition by customer_id, category
                    order by created_at_epoch
                    range between unbounded preceding and 1 preceding
                ) as bigint)
        end as category_log_amount_milli_sum,
        case
            when counterparty_id is not null
                then count(*) over (
                    partition by customer_id, counterparty_id
                    order by created_at_epoch
                    range between unbounded preceding and 1 preceding
                )
        end as counterparty_rows_before
    from with_habit_parts
    where customer_id is not null
),

customer_history as (
    -- Every frame is a time range over one order key that ends a second
    -- before the row: payments in the same second are peers that do not
    -- see each other, so no tie-break can leak a later row into an earlier
    -- one, and one sort serves every window.
    select
        *,
        count(*) over history as history_rows,
        min(created_at_epoch) over history as first_created_at_epoch,
        max(created_at_epoch) over history as prev_created_at_epoch,
        cast(sum(is_night) over history as bigint) as night_rows_before,
        cast(sum(hour_x_milli) over history as bigint) as hour_x_milli_sum,
        cast(sum(hour_y_milli) over history as bigint) as hour_y_milli_sum,
        count(lat_micro) over history as located_rows_before,
        cast(sum(lat_micro) over history as bigint) as lat_micro_sum,
        cast(sum(lon_micro) over history as bigint) as lon_micro_sum,
        count(*) over last_hour as tx_count_1h,
        cast(sum(amount_cents) over last_hour as bigint)
            as amount_sum_1h_cents,
        count(*) over last_day as tx_count_1d,
        cast(sum(amount_cents) over last_day as bigint)
            as amount_sum_1d_cents,
        count(*) over last_week as tx_count_7d,
        cast(sum(amount_cents) over last_week as bigint)
            as amount_sum_7d_cents,
        count(*) over last_month as tx_count_30d,
        cast(sum(amount_cents) over last_month as bigint)
            as amount_sum_30d_cents,
        cast(sum(log_amount_milli) over last_month as bigint)
            as log_amount_milli_sum_30d,
        max(amount_cents) over last_month as max_amount_30d_cents
    from counterparty_history
    window
        history as (
            partition by customer_id
            order by created_at_epoch
            range between unbounded preceding and 1 preceding
        ),
        last_hour as (
            partition by customer_id
            order by created_at_epoch
            range between :feature_hour_seconds preceding and 1 preceding
        ),
        last_day as (
            partition by customer_id
            order by created_at_epoch
            range between :feature_day_seconds preceding and 1 preceding
        ),
        last_week as (
            partition by customer_id
            order by created_at_epoch
            range between :feature_week_seconds preceding and 1 preceding
        ),
        last_month as (
            partition by customer_id
            order by created_at_epoch
            range between :feature_month_seconds preceding and 1 preceding
        )
),

with_typical as (
    select
        *,
        exp(log_amount_milli_sum_30d / nullif(1000e0 * tx_count_30d, 0))
            as typical_amount_cents,
        -- The days of the last month the customer has been paying: a
        -- customer seen for a week has a week's spending in the window.
        case
            when first_created_at_epoch is null then null
            when created_at_epoch - first_created_at_epoch
                >= :feature_month_seconds
                then :feature_month_seconds / 86400e0
            when created_at_epoch - first_created_at_epoch < 86400 then null
            else (created_at_epoch - first_created_at_epoch) / 86400e0
        end as history_days_30d,
        lat_micro / 1e6 as lat,
        lon_micro / 1e6 as lon,
        lat_micro_sum / nullif(1e6 * located_rows_before, 0) as usual_lat,
        lon_micro_sum / nullif(1e6 * located_rows_before, 0) as usual_lon
    from customer_history
),

computed as (
    select
        transaction_id,
        customer_id,
        local_hour,
        is_night,
        history_rows,
        created_at_epoch - prev_created_at_epoch as seconds_since_prev,
        tx_count_1h,
        amount_sum_1h_cents,
        tx_count_1d,
        amount_sum_1d_cents,
        tx_count_7d,
        amount_sum_7d_cents / nullif(cast(tx_count_7d as double), 0)
            as amount_mean_7d_cents,
        tx_count_30d,
        amount_sum_30d_cents / nullif(cast(tx_count_30d as double), 0)
            as amount_mean_30d_cents,
        amount_cents * 1e0 * tx_count_30d / nullif(amount_sum_30d_cents, 0)
            as amount_to_mean_30d,
        typical_amount_cents,
        amount_cents / nullif(typical_amount_cents, 0) as amount_to_typical,
        max_amount_30d_cents,
        amount_cents / nullif(cast(max_amount_30d_cents as double), 0)
            as amount_to_max_30d,
        -- What the last 24 h cost, this payment included, against the
        -- customer's usual day (the last 30 days' spending per day of
        -- history; NULL before a first full day).
        (coalesce(amount_sum_1d_cents, 0) + amount_cents) * history_days_30d
        / nullif(cast(amount_sum_30d_cents as double), 0)
            as day_spend_to_usual,
        night_rows_before / nullif(cast(history_rows as double), 0)
            as night_share_before,
        -- 1: always paid at this hour before; 0: no habit, or as often
        -- at any hour; -1: always twelve hours away from it.
        (hour_x_milli * hour_x_milli_sum + hour_y_milli * hour_y_milli_sum)
        / nullif(1e6 * history_rows, 0) as hour_habit,
        category_rows_before,
        -- Against the customer's typical (geometric-mean) amount in this
        -- category: a grocery bill is not a flight.
        amount_cents / nullif(
            exp(
                category_log_amount_milli_sum
                / nullif(1000e0 * category_rows_before, 0)
            ),
            0
        ) as amount_to_category_typical,
        counterparty_rows_before,
        -- Equirectangular distance from the mean of the earlier places: at
        -- city scale within 0.1 % of the haversine, and no trigonometry on
        -- a difference of nearly equal numbers.
        111.195 * sqrt(
            (lat - usual_lat) * (lat - usual_lat)
            + (lon - usual_lon) * cos(radians(lat))
            * (lon - usual_lon) * cos(radians(lat))
        ) as km_from_usual_place
    from with_typical
),

{% set relative = [
    'history_rows', 'seconds_since_prev', 'tx_count_1h', 'amount_sum_1h_cents',
    'tx_count_1d', 'amount_sum_1d_cents', 'tx_count_7d', 'amount_mean_7d_cents',
    'tx_count_30d', 'amount_mean_30d_cents', 'amount_to_mean_30d',
    'typical_amount_cents', 'amount_to_typical', 'max_amount_30d_cents',
    'amount_to_max_30d', 'day_spend_to_usual', 'night_share_before',
    'hour_habit', 'category_rows_before', 'amount_to_category_typical',
    'counterparty_rows_before', 'km_from_usual_place',
] %}
final as (
    -- The row's own features as they are; the customer-relative ones only
    -- where there is a customer: a row with none never enters a window (as
    -- one partition of every such row of a file it would cost more than all
    -- the customers' together).
    select
        transaction_id,
        local_hour,
        is_night,
{% for feature in relative %}
        {{ feature }}{{ "," if not loop.last }}
{% endfor %}
    from computed
    union all
    select
        transaction_id,
        local_hour,
        {{ is_night('local_hour') }} as is_night,
{% for feature in relative %}
        null as {{ feature }}{{ "," if not loop.last }}
{% endfor %}
    from (
        select
            transaction_id,
            {{ local_hour('created_at_epoch') }} as local_hour
        from bronze_transactions
        where customer_id is null
    ) as no_customer
)

select * from final
