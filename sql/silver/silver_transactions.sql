-- Silver: one row per Bronze transaction with its features and every rule
-- flag. Velocity and amount spike read the per-customer windows of
-- silver_customer_windows; the other rules are models of their own over the
-- rows they judge (silver_rule_*.sql): impossible travel is joined in as it
-- is, the sparse ones through silver_rule_flags. Portable subset (SQLite, DuckDB,
-- Spark): epoch-second arithmetic, nullif on divisions, case instead of
-- iif/least/greatest, window orderings made total with the transaction id.
-- Parameters (:name) come from RuleSettings (ssa/settings.py says where each
-- default comes from).

with

transactions as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        channel,
        amount_cents,
        payee_id,
        payee_type,
        is_same_owner,
        merchant_id,
        category,
        card_id,
        entry_mode,
        auth_status,
        device_id,
        device_first_seen_epoch,
        bairro,
        lat,
        lon,
        source,
        batch_id
    from bronze_transactions
),

customer_windows as (
    select
        transaction_id,
        velocity_count,
        baseline_amount_cents,
        baseline_rows
    from silver_customer_windows
),

travel as (
    select
        transaction_id,
        prev_created_at_epoch,
        prev_bairro,
        next_created_at_epoch,
        next_bairro,
        distance_km,
        minutes_since_prev,
        implied_speed_kmh,
        is_impossible_travel
    from silver_rule_impossible_travel
),

night as (
    select
        transaction_id,
        night_running_cents,
        night_limit_cents
    from silver_night_pix
),

joined as (
    select
        t.*,
        cast(
            floor((t.created_at_epoch + :utc_offset_seconds) / 86400e0)
            as bigint
        ) as local_day,
        cast(
            floor(
                ((t.created_at_epoch + :utc_offset_seconds) % 86400) / 3600e0
            ) as bigint
        ) as local_hour,
        w.velocity_count,
        w.baseline_amount_cents,
        w.baseline_rows,
        t.amount_cents / nullif(w.baseline_amount_cents, 0)
            as amount_to_baseline,
        tr.prev_created_at_epoch,
        tr.prev_bairro,
        tr.next_created_at_epoch,
        tr.next_bairro,
        tr.distance_km,
        tr.minutes_since_prev,
        tr.implied_speed_kmh,
        n.night_running_cents,
        n.night_limit_cents,
        rf.probes_in_window,
        rf.declines_in_window,
        rf.device_first_day_cents,
        rf.new_payers_in_window,
        rf.new_payer_cents_in_window,
        rf.recent_inflow_cents,
        rf.recent_outflow_cents,
        rf.payer_baseline_cents,
        rf.payee_outsized_first_payments,
        coalesce(tr.is_impossible_travel, 0) as is_impossible_travel,
        coalesce(rf.is_mule_pass_through, 0) as is_mule_pass_through,
        coalesce(rf.is_card_testing, 0) as is_card_testing,
        coalesce(rf.is_mule_fan_in, 0) as is_mule_fan_in,
        coalesce(rf.is_first_time_payee, 0) as is_first_time_payee,
        coalesce(rf.is_night_pix_limit, 0) as is_night_pix_limit,
        coalesce(rf.is_new_device, 0) as is_new_device,
        coalesce(rf.is_structuring, 0) as is_structuring
    from transactions as t
    inner join customer_windows as w
        on t.transaction_id = w.transaction_id
    left join travel as tr
        on t.transaction_id = tr.transaction_id
    left join night as n
        on t.transaction_id = n.transaction_id
    left join silver_rule_flags as rf
        on t.transaction_id = rf.transaction_id
),

with_flags as (
    select
        *,
        case
            when velocity_count >= :velocity_min_count then 1 else 0
        end as is_velocity_burst,
        case
            when baseline_rows >= :spike_min_history
                and amount_cents >= :spike_min_amount_cents
                and amount_cents > :spike_ratio * baseline_amount_cents
                -- Stolen credentials are used from the fraudster's device:
                -- a big one-off purchase from the customer's own phone or
                -- card in hand is not a case (see README, amount spike).
                and created_at_epoch - device_first_seen_epoch
                < :spike_device_max_age_seconds
                then 1
            else 0
        end as is_amount_spike
    from joined
),

final as (
    select
        *,
        -- The strongest flag, in the order of the default risk weights.
        case
            when is_impossible_travel = 1 then 'impossible_travel'
            when is_mule_pass_through = 1 then 'mule_pass_through'
            when is_card_testing = 1 then 'card_testing'
            when is_mule_fan_in = 1 then 'mule_fan_in'
            when is_first_time_payee = 1 then 'first_time_payee'
            when is_night_pix_limit = 1 then 'night_pix_limit'
            when is_new_device = 1 then 'new_device'
            when is_velocity_burst = 1 then 'velocity_burst'
            when is_structuring = 1 then 'structuring'
            when is_amount_spike = 1 then 'amount_spike'
            else 'Normal'
        end as anomaly_flag,
        substr(
            case when is_impossible_travel = 1
                then ';impossible_travel' else '' end
            || case when is_mule_pass_through = 1
                then ';mule_pass_through' else '' end
            || case when is_card_testing = 1 then ';card_testing' else '' end
            || case when is_mule_fan_in = 1 then ';mule_fan_in' else '' end
            || case when is_first_time_payee = 1
                then ';first_time_payee' else '' end
            || case when is_night_pix_limit = 1
                then ';night_pix_limit' else '' end
            || case when is_new_device = 1 then ';new_device' else '' end
            || case when is_velocity_burst = 1
                then ';velocity_burst' else '' end
            || case when is_structuring = 1 then ';structuring' else '' end
            || case when is_amount_spike = 1 then ';amount_spike' else '' end,
            2
        ) as flags_fired
    from with_flags
)

select * from final
