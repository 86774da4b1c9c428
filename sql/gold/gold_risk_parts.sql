-- Gold: what the rules and the anomaly score say of every transaction,
-- before the learned voice joins them in gold_transaction_risk. Apart from
-- it so that the engine can build it while the risk model scores the same
-- rows (it reads nothing the model writes), and because the combination is
-- then a plain join of two tables keyed alike.
--
-- Rules score = sum of the weights of the rules that fired (a Jinja loop over
-- the rules' entries in ssa/rules.py; the weights are risk.weight_<rule>), plus context
-- bonuses (a device first seen less than risk.new_device_seconds before,
-- another flag for the customer at most risk.recent_flag_seconds before),
-- capped at 100. Bonuses only add to a flagged row: context alone is not an
-- alert.
--
-- Anomaly score (no labels needed), from the customer-relative features of
-- silver_customer_features (settings.risk.anomaly_*), in doublings: three
-- signals, each 0 below its threshold and log2 of itself above it:
--   amount: the amount over the customer's typical one (from
--           anomaly_amount_ratio);
--   day:    the last 24 h's spending, this payment included, over the
--           customer's usual day (from anomaly_day_ratio);
--   burst:  payments within the hour, this one included, over half of
--           anomaly_burst_count (from that count: one doubling).
-- Where one of them stands out, each piece of context counts one doubling
-- more: an hour the customer rarely pays at (or night, for one who rarely
-- pays at night), a category new to them, a new device (as for the bonus:
-- risk.new_device_seconds). Only a customer with anomaly_min_history
-- earlier payments is judged: no history, no anomaly. A payment with no customer (a source that
-- names none) has no history to compare with; it is measured against its
-- file instead (the rows of its batch that have no customer either, at
-- least anomaly_min_history of them): the amount over the file's typical
-- (geometric-mean) amount, from anomaly_amount_ratio, and, as context, an
-- hour at which the file has fewer than anomaly_rare_hour_share of its
-- payments, or a new device; its day and burst signals are 0, and so is
-- the bonus for the customer's earlier flags.
-- Points = anomaly_points_per_doubling per doubling, at most
-- anomaly_max_points: below every rule weight, so a row a rule flagged
-- ranks above a row that is only unusual, and an anomaly alone is at most
-- a medium alert.
{% from 'macros/amounts.sql' import log_amount_milli %}

with

transactions as (
    select
        transaction_id,
        customer_id,
        created_at_epoch,
        local_day,
        bairro,
        channel,
        amount_cents,
        device_first_seen_epoch,
        device_first_use_known,
        anomaly_flag,
        batch_id,
        local_hour,
{% for rule in rules %}
        is_{{ rule.name }}{{ "," if not loop.last }}
{% endfor %}
    from silver_transactions
),

unnamed as (
    -- The payments with no customer, each against the others of its file:
    -- log amounts in integer thousandths, summed exactly on every engine.
    select
        transaction_id,
        amount_cents,
        count(*) over (partition by batch_id) as file_rows,
        cast(sum({{ log_amount_milli('amount_cents') }}) over (
            partition by batch_id
        ) as bigint) as file_log_amount_milli_sum,
        count(*) over (partition by batch_id, local_hour) as file_hour_rows
    from transactions
    where customer_id is null
),

population as (
    select
        transaction_id,
        file_rows,
        exp(file_log_amount_milli_sum / nullif(1000e0 * file_rows, 0))
            as file_typical_amount_cents,
        amount_cents / nullif(
            exp(file_log_amount_milli_sum / nullif(1000e0 * file_rows, 0)), 0
        ) as amount_to_file_typical,
        file_hour_rows / nullif(cast(file_rows as double), 0) as file_hour_share
    from unnamed
),

features as (
    select
        transaction_id,
        history_rows,
        amount_to_typical,
        day_spend_to_usual,
        tx_count_1h,
        hour_habit,
        is_night,
        night_share_before,
        category_rows_before
    from silver_customer_features
),

with_context as (
    select
        t.*,
        case
            when t.customer_id is not null
                then max(
                    case
                        when t.anomaly_flag <> 'Normal' then t.created_at_epoch
                    end
                ) over (
                    partition by t.customer_id
                    order by t.created_at_epoch, t.transaction_id
                    rows between unbounded preceding and 1 preceding
                )
        end as prev_flagged_at_epoch,
        -- One test of a new device, for the bonus and the anomaly score's
        -- context: only a device whose first use is known is new.
        case
            when t.device_first_use_known = 1
                and t.created_at_epoch - t.device_first_seen_epoch
                < :new_device_seconds
                then 1
            else 0
        end as from_new_device
    from transactions as t
),

with_points as (
    select
        *,
{% for rule in rules %}
        {{ "+ " if not loop.first }}is_{{ rule.name }} * :weight_{{ rule.name }}
{% endfor %}
        + case
            when anomaly_flag <> 'Normal' and from_new_device = 1
                then :bonus_new_device
            else 0
        end
        + case
            when anomaly_flag <> 'Normal'
                and prev_flagged_at_epoch is not null
                and created_at_epoch - prev_flagged_at_epoch
                <= :recent_flag_seconds
                then :bonus_recent_flag
            else 0
        end as risk_points
    from with_context
),

anomaly_signals as (
    -- In doublings (log2) above each threshold; 0 where it is not reached.
    select
        f.transaction_id,
        case
            when f.history_rows >= :anomaly_min_history
                and f.amount_to_typical >= :anomaly_amount_ratio
                then ln(f.amount_to_typical) / ln(2e0)
            when p.file_rows >= :anomaly_min_history
                and p.amount_to_file_typical >= :anomaly_amount_ratio
                then ln(p.amount_to_file_typical) / ln(2e0)
            else 0
        end as amount_doublings,
        case
            when f.history_rows >= :anomaly_min_history
                and f.day_spend_to_usual >= :anomaly_day_ratio
                then ln(f.day_spend_to_usual) / ln(2e0)
            else 0
        end as day_doublings,
        case
            when f.history_rows >= :anomaly_min_history
                and f.tx_count_1h + 1 >= :anomaly_burst_count
                then ln(2e0 * (f.tx_count_1h + 1) / :anomaly_burst_count)
                / ln(2e0)
            else 0
        end as burst_doublings,
        f.history_rows,
        f.hour_habit,
        f.is_night,
        f.night_share_before,
        f.category_rows_before,
        p.file_rows,
        p.file_hour_share,
        p.file_typical_amount_cents,
        p.amount_to_file_typical
    from features as f
    left join population as p
        on f.transaction_id = p.transaction_id
),

anomaly_parts as (
    select
        transaction_id,
        amount_doublings,
        day_doublings,
        burst_doublings,
        case
            when history_rows >= :anomaly_min_history
                and (
                    hour_habit < 0
                    or (
                        is_night = 1
                        and night_share_before < :anomaly_night_share_max
                    )
                )
                then 1
            when file_rows >= :anomaly_min_history
                and file_hour_share < :anomaly_rare_hour_share
                then 1
            else 0
        end as has_unusual_hour,
        case
            when history_rows >= :anomaly_min_history
                and category_rows_before = 0
                then 1
            else 0
        end as has_new_category,
        case
            when history_rows >= :anomaly_min_history
                or file_rows >= :anomaly_min_history
                then 1
            else 0
        end as has_history,
        file_typical_amount_cents,
        amount_to_file_typical
    from anomaly_signals
),

with_anomaly_parts as (
    -- Whether the device is new is Silver's, not a feature of the
    -- customer's past (silver_transactions.sql: it follows the device's
    -- first use, which another customer's rows may move), so it joins the
    -- parts here, on the join SQLite runs through silver_customer_features'
    -- index.
    select
        p.*,
        a.amount_doublings,
        a.day_doublings,
        a.burst_doublings,
        a.has_unusual_hour,
        a.has_new_category,
        case
            when a.transaction_id is null then null
            when a.has_history = 1 and p.from_new_device = 1 then 1
            else 0
        end as has_recent_device,
        a.file_typical_amount_cents,
        a.amount_to_file_typical
    from with_points as p
    left join anomaly_parts as a
        on p.transaction_id = a.transaction_id
),

anomaly_scored as (
    select
        *,
        :anomaly_points_per_doubling * (
            amount_doublings
            + day_doublings
            + burst_doublings
            + case
                when amount_doublings + day_doublings + burst_doublings > 0
                    then has_unusual_hour + has_new_category
                    + has_recent_device
                else 0
            end
        ) as anomaly_raw
    from with_anomaly_parts
),

final as (
    select
        p.transaction_id,
        p.customer_id,
        p.created_at_epoch,
        p.local_day,
        p.bairro,
        p.channel,
        p.amount_cents,
        p.anomaly_flag,
        p.prev_flagged_at_epoch,
        p.risk_points,
        case
            when p.risk_points > 100 then 100 else p.risk_points
        end as rules_score,
        case
            when p.anomaly_raw >= :anomaly_max_points
                then :anomaly_max_points
            else cast(floor(coalesce(p.anomaly_raw, 0)) as bigint)
        end as anomaly_points,
        p.amount_doublings,
        p.day_doublings,
        p.burst_doublings,
        p.has_unusual_hour,
        p.has_new_category,
        p.has_recent_device,
        -- What a row with no customer was measured against (NULL for the
        -- others): its file's typical amount, and the amount over it.
        p.file_typical_amount_cents,
        p.amount_to_file_typical
    from anomaly_scored as p
)

select * from final
