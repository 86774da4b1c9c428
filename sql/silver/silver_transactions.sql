-- Silver: one row per Bronze transaction with its features and every rule
-- flag. Velocity and amount spike read the per-customer windows of
-- silver_customer_windows; the other rules are models of their own over the
-- rows they judge (silver_rule_*.sql): impossible travel is joined in as it
-- is, the sparse ones through silver_rule_flags. Portable subset (SQLite, DuckDB,
-- Spark): epoch-second arithmetic, nullif on divisions, case instead of
-- iif/least/greatest, window orderings made total with the transaction id.
-- Parameters (:name) come from RuleSettings (ssa/settings.py says where each
-- default comes from). The rules' joins, features and flags loop over their
-- entries in ssa/rules.py (Jinja, rendered before the file runs); velocity
-- and amount spike, which have no model of their own, are written here.
-- A device's first use is the source's or, where it gave none, the one
-- silver_device_first_use derived from the history, with whether it is known,
-- and how many other customers used the device before the row.
{% from 'macros/local_time.sql' import local_day, local_hour %}
{% from 'macros/devices.sql' import device_first_use %}

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

devices as (
    -- The device's first use where the source gave none, whether it is
    -- known, and its other customers before the row
    -- (silver_device_first_use.sql).
    select
        transaction_id,
        device_first_seen_epoch,
        device_first_use_known,
        device_other_customers
    from silver_device_first_use
),

customer_windows as (
    select
        transaction_id,
        velocity_count,
        baseline_amount_cents,
        baseline_rows
    from silver_customer_windows
),

night as (
    select
        transaction_id,
        night_running_cents,
        night_limit_cents
    from silver_night_pix
),

with_device as (
    select
        t.transaction_id,
        t.created_at_epoch,
        t.customer_id,
        t.channel,
        t.amount_cents,
        t.payee_id,
        t.payee_type,
        t.is_same_owner,
        t.merchant_id,
        t.category,
        t.card_id,
        t.entry_mode,
        t.auth_status,
        t.device_id,
        {{ device_first_use('t', 'd') }},
        d.device_other_customers,
        t.bairro,
        t.lat,
        t.lon,
        t.source,
        t.batch_id
    from transactions as t
    left join devices as d
        on t.transaction_id = d.transaction_id
),

joined as (
    select
        t.*,
        -- Days since the device's first use, for the risk model and the
        -- anomaly score: where that first use is not known yet, only once
        -- the device is older than the look-back (at least that old,
        -- whatever came before the history); NULL before.
        case
            when t.device_first_use_known = 1
                or t.created_at_epoch - t.device_first_seen_epoch
                >= :device_history_min_seconds
                then (t.created_at_epoch - t.device_first_seen_epoch) / 86400e0
        end as device_age_days,
        {{ local_day('t.created_at_epoch') }} as local_day,
        {{ local_hour('t.created_at_epoch') }} as local_hour,
        w.velocity_count,
        w.baseline_amount_cents,
        w.baseline_rows,
        t.amount_cents / nullif(w.baseline_amount_cents, 0)
            as amount_to_baseline,
{% for rule in dense_rules %}
{% for feature in rule.carries %}
        {{ rule.name }}.{{ feature }},
{% endfor %}
{% endfor %}
        n.night_running_cents,
        n.night_limit_cents,
{% for rule in sparse_rules %}
{% for feature in rule.carries %}
        rf.{{ feature }},
{% endfor %}
{% endfor %}
{% for rule in dense_rules %}
        coalesce({{ rule.name }}.{{ rule.flag }}, 0) as is_{{ rule.name }},
{% endfor %}
{% for rule in sparse_rules %}
        coalesce(rf.is_{{ rule.name }}, 0) as is_{{ rule.name }}{{ "," if not loop.last }}
{% endfor %}
    from with_device as t
    inner join customer_windows as w
        on t.transaction_id = w.transaction_id
{% for rule in dense_rules %}
    left join {{ rule.table }} as {{ rule.name }}
        on t.transaction_id = {{ rule.name }}.transaction_id
{% endfor %}
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
                -- A device whose first use is not known yet is not judged.
                and device_first_use_known = 1
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
        -- The strongest flag, in the order of the rules' entries.
        case
{% for rule in rules %}
            when is_{{ rule.name }} = 1 then '{{ rule.name }}'
{% endfor %}
            else 'Normal'
        end as anomaly_flag,
        substr(
{% for rule in rules %}
            {{ "|| " if not loop.first }}case when is_{{ rule.name }} = 1
                then ';{{ rule.name }}' else '' end
{% endfor %}
            , 2
        ) as flags_fired
    from with_flags
)

select * from final
