-- Silver: one row per Bronze transaction, with per-customer window features
-- and the rule flags. Portable subset (SQLite, DuckDB, Spark): epoch-second
-- arithmetic, nullif on divisions, case instead of iif/least/greatest, and
-- window orderings made total with the transaction id.
-- Parameters (:name) come from RuleSettings; see ssa/settings.py for the
-- source of each default.
--
-- Shaped for speed on SQLite (measured at 1M rows, see bench/benchmark.py):
-- * every distinct window specification is one more pass that buffers each
--   row, and a pass costs in proportion to the columns it carries, so the
--   windows see a narrow row (ids, time, amount, place and 0/1 rule inputs)
--   and the descriptive columns are joined back in `final`;
-- * two window steps: `with_timeline` (all windows per customer) and
--   `with_windows` (the night partition). Expressions are computed once
--   inside a window step but re-evaluated at every reference in the plain
--   steps after it, so the haversine terms live in `with_windows`.
-- The SQL never filters customers: to refresh some of them, the runner points
-- `bronze_transactions` at a view of those customers' rows
-- (ssa/warehouse.py, refresh_by_customer).

with

transactions as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        channel,
        amount_cents,
        payee_type,
        is_same_owner,
        entry_mode,
        device_first_seen_epoch,
        lat,
        lon
    from bronze_transactions
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
        t.*,
        coalesce(
            c.night_start_hour, :night_start_hour_default
        ) as night_start_hour,
        coalesce(
            c.night_limit_cents, :night_limit_cents_default
        ) as night_limit_cents,
        cast(
            floor(
                ((t.created_at_epoch + :utc_offset_seconds) % 86400) / 3600e0
            ) as bigint
        ) as local_hour,
        -- A night runs from its evening start to night_end_hour next morning;
        -- shifting by night_end_hour puts one whole night in one key.
        cast(
            floor(
                (
                    t.created_at_epoch + :utc_offset_seconds
                    - :night_end_hour * 3600
                ) / 86400e0
            ) as bigint
        ) as night_key
    from transactions as t
    left join customers as c
        on t.customer_id = c.customer_id
),

with_rule_inputs as (
    -- The row the windows carry: what they read, plus the per-row parts of
    -- the rules as 0/1 columns.
    select
        transaction_id,
        customer_id,
        created_at_epoch,
        amount_cents,
        lat,
        lon,
        night_key,
        night_limit_cents,
        case
            when channel = 'pix'
                and payee_type = 'PF'
                and is_same_owner = 0
                and (
                    local_hour >= night_start_hour
                    or local_hour < :night_end_hour
                )
                then 1
            else 0
        end as is_night_pf_pix,
        case
            when channel in ('credit', 'debit')
                and entry_mode = 'not_present'
                then 1
            else 0
        end as is_online_card,
        -- Stolen credentials are used from the fraudster's device: a big
        -- one-off purchase from the customer's own phone or card in hand is
        -- not a case (see README, amount spike).
        case
            when amount_cents >= :spike_min_amount_cents
                and created_at_epoch - device_first_seen_epoch
                < :spike_device_max_age_seconds
                then 1
            else 0
        end as is_spike_candidate
    from with_local_time
),

with_timeline as (
    select
        *,
        lag(created_at_epoch) over customer_timeline as prev_created_at_epoch,
        lag(lat) over customer_timeline as prev_lat,
        lag(lon) over customer_timeline as prev_lon,
        lag(created_at_epoch, 2) over customer_timeline
            as prev2_created_at_epoch,
        lag(lat, 2) over customer_timeline as prev2_lat,
        lag(lon, 2) over customer_timeline as prev2_lon,
        lead(created_at_epoch) over customer_timeline as next_created_at_epoch,
        avg(cast(amount_cents as double)) over (
            partition by customer_id
            order by created_at_epoch, transaction_id
            rows between :spike_history_rows preceding and 1 preceding
        ) as baseline_amount_cents,
        count(*) over (
            partition by customer_id
            order by created_at_epoch, transaction_id
            rows between :spike_history_rows preceding and 1 preceding
        ) as baseline_rows,
        count(*) over (
            partition by customer_id
            order by created_at_epoch
            range between :velocity_window_seconds preceding
            and :velocity_window_seconds following
        ) as velocity_count,
        sum(
            case
                when is_online_card = 1
                    and amount_cents <= :card_testing_max_cents
                    then 1
                else 0
            end
        ) over (
            partition by customer_id
            order by created_at_epoch
            range between :card_testing_window_seconds preceding
            and :card_testing_window_seconds following
        ) as tiny_online_card_count
    from with_rule_inputs
    window customer_timeline as (
        partition by customer_id
        order by created_at_epoch, transaction_id
    )
),

with_windows as (
    -- sin^2(dlat/2) + cos(lat1) cos(lat2) sin^2(dlon/2), for the previous
    -- row, the one before it, and between those two.
    select
        *,
        sum(is_night_pf_pix * amount_cents) over (
            partition by customer_id, night_key
            order by created_at_epoch, transaction_id
            rows between unbounded preceding and current row
        ) as night_pf_pix_total_cents,
        power(sin(radians(lat - prev_lat) / 2), 2)
        + cos(radians(prev_lat)) * cos(radians(lat))
        * power(sin(radians(lon - prev_lon) / 2), 2) as hav_prev,
        power(sin(radians(lat - prev2_lat) / 2), 2)
        + cos(radians(prev2_lat)) * cos(radians(lat))
        * power(sin(radians(lon - prev2_lon) / 2), 2) as hav_prev2,
        power(sin(radians(prev_lat - prev2_lat) / 2), 2)
        + cos(radians(prev2_lat)) * cos(radians(prev_lat))
        * power(sin(radians(prev_lon - prev2_lon) / 2), 2) as hav_prev_leg
    from with_timeline
),

with_distances as (
    -- Clamp to [0, 1]: rounding can push the argument past 1 and engines
    -- disagree on asin(1.0000001) (NULL or NaN).
    select
        *,
        2 * 6371.0088 * asin(sqrt(
            case when hav_prev > 1 then 1 else hav_prev end
        )) as distance_km,
        2 * 6371.0088 * asin(sqrt(
            case when hav_prev2 > 1 then 1 else hav_prev2 end
        )) as distance_from_prev2_km,
        2 * 6371.0088 * asin(sqrt(
            case when hav_prev_leg > 1 then 1 else hav_prev_leg end
        )) as prev_leg_km,
        created_at_epoch - prev_created_at_epoch as seconds_since_prev,
        prev_created_at_epoch - prev2_created_at_epoch as prev_leg_seconds
    from with_windows
),

with_features as (
    select
        *,
        seconds_since_prev / 60e0 as minutes_since_prev,
        distance_km * 3600 / nullif(seconds_since_prev, 0) as implied_speed_kmh,
        amount_cents / nullif(baseline_amount_cents, 0) as amount_to_baseline,
        -- Too far, too fast: no one moves door to door faster than the
        -- highest urban speed limit. Same-second moves count as too fast.
        case
            when distance_km >= :hop_min_distance_km
                and distance_km * 3600
                > :hop_max_speed_kmh * seconds_since_prev
                then 1
            else 0
        end as is_hop_from_prev,
        case
            when prev_leg_km >= :hop_min_distance_km
                and prev_leg_km * 3600 > :hop_max_speed_kmh * prev_leg_seconds
                and distance_from_prev2_km < :hop_min_distance_km
                then 1
            else 0
        end as is_return_from_hop
    from with_distances
),

with_flags as (
    select
        *,
        -- The row that jumped away is the suspect; the one that comes back
        -- to where the customer was before is the real card.
        case
            when is_hop_from_prev = 1 and is_return_from_hop = 0 then 1
            else 0
        end as is_impossible_travel,
        case
            when velocity_count >= :velocity_min_count then 1 else 0
        end as is_velocity_burst,
        case
            when baseline_rows >= :spike_min_history
                and is_spike_candidate = 1
                and amount_cents > :spike_ratio * baseline_amount_cents
                then 1
            else 0
        end as is_amount_spike,
        case
            when is_night_pf_pix = 1
                and night_pf_pix_total_cents > night_limit_cents
                then 1
            else 0
        end as is_night_pix_limit,
        case
            when is_online_card = 1
                and tiny_online_card_count >= :card_testing_min_probes
                then 1
            else 0
        end as is_card_testing
    from with_features
),

flagged as (
    select
        transaction_id,
        prev_created_at_epoch,
        next_created_at_epoch,
        distance_km,
        minutes_since_prev,
        implied_speed_kmh,
        velocity_count,
        baseline_amount_cents,
        baseline_rows,
        amount_to_baseline,
        night_limit_cents,
        night_pf_pix_total_cents,
        tiny_online_card_count,
        is_impossible_travel,
        is_velocity_burst,
        is_amount_spike,
        is_night_pix_limit,
        is_card_testing,
        -- The strongest flag, in the order of the Gold risk weights.
        case
            when is_impossible_travel = 1 then 'impossible_travel'
            when is_card_testing = 1 then 'card_testing'
            when is_night_pix_limit = 1 then 'night_pix_limit'
            when is_velocity_burst = 1 then 'velocity_burst'
            when is_amount_spike = 1 then 'amount_spike'
            else 'Normal'
        end as anomaly_flag,
        substr(
            case when is_impossible_travel = 1
                then ';impossible_travel' else '' end
            || case when is_card_testing = 1 then ';card_testing' else '' end
            || case when is_night_pix_limit = 1
                then ';night_pix_limit' else '' end
            || case when is_velocity_burst = 1
                then ';velocity_burst' else '' end
            || case when is_amount_spike = 1 then ';amount_spike' else '' end,
            2
        ) as flags_fired
    from with_flags
),

final as (
    -- Every flagged row has its Bronze row (it came from there): the left
    -- join returns the same rows as an inner join, and lets SQLite stream
    -- the windowed rows instead of first copying them into a temp table.
    select
        b.transaction_id,
        b.created_at_epoch,
        cast(
            floor((b.created_at_epoch + :utc_offset_seconds) / 86400e0) as bigint
        ) as local_day,
        cast(
            floor(
                ((b.created_at_epoch + :utc_offset_seconds) % 86400) / 3600e0
            ) as bigint
        ) as local_hour,
        b.customer_id,
        b.channel,
        b.amount_cents,
        b.payee_id,
        b.payee_type,
        b.is_same_owner,
        b.merchant_id,
        b.category,
        b.card_id,
        b.entry_mode,
        b.auth_status,
        b.device_id,
        b.device_first_seen_epoch,
        b.bairro,
        b.lat,
        b.lon,
        b.source,
        b.batch_id,
        f.prev_created_at_epoch,
        f.next_created_at_epoch,
        f.distance_km,
        f.minutes_since_prev,
        f.implied_speed_kmh,
        f.velocity_count,
        f.baseline_amount_cents,
        f.baseline_rows,
        f.amount_to_baseline,
        f.night_limit_cents,
        f.night_pf_pix_total_cents,
        f.tiny_online_card_count,
        f.is_impossible_travel,
        f.is_velocity_burst,
        f.is_amount_spike,
        f.is_night_pix_limit,
        f.is_card_testing,
        f.anomaly_flag,
        f.flags_fired
    from flagged as f
    left join bronze_transactions as b
        on f.transaction_id = b.transaction_id
)

select * from final
