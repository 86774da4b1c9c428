-- What the risk model reads for every transaction: the customer-relative
-- features, the rule flags and the few Bronze columns a fraud analyst
-- would name (amount, channel, entry mode, category). No label: scoring
-- runs this same query (ssa/risk/risk_model.py), and the labels are joined only
-- in training (labels.sql).

with

silver as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        local_day,
        amount_cents,
        channel,
        entry_mode,
        category,
        device_age_days,
        device_other_customers,
{% for rule in rules %}
        is_{{ rule.name }}{{ "," if not loop.last }}
{% endfor %}
    from silver_transactions
),

final as (
    select
        s.*,
        -- 1970-01-01 was a Thursday: 0 is Monday.
        (s.local_day + 3) % 7 as day_of_week,
        f.local_hour,
        f.is_night,
        f.history_rows,
        f.seconds_since_prev,
        f.tx_count_1h,
        f.amount_sum_1h_cents,
        f.tx_count_1d,
        f.amount_sum_1d_cents,
        f.tx_count_7d,
        f.amount_mean_7d_cents,
        f.tx_count_30d,
        f.amount_mean_30d_cents,
        f.amount_to_mean_30d,
        f.typical_amount_cents,
        f.amount_to_typical,
        f.max_amount_30d_cents,
        f.amount_to_max_30d,
        f.day_spend_to_usual,
        f.night_share_before,
        f.hour_habit,
        f.category_rows_before,
        f.amount_to_category_typical,
        f.counterparty_rows_before,
        f.km_from_usual_place,
        r.seconds_since_prev_in_category,
        r.night_tx_count_1d,
        r.max_amount_to_category_1d
    -- Left joins: SQLite keeps a left join's order, so it walks Silver once
    -- and finds each row's features by their transaction_id index (with
    -- inner joins it chose to index Silver on the fly, at every read). Each
    -- Silver row has its features: they are built from the same Bronze.
    from silver as s
    left join silver_customer_features as f
        on s.transaction_id = f.transaction_id
    left join silver_customer_recent as r
        on s.transaction_id = r.transaction_id
)

select * from final
