-- Intermediate: the rows any of the sparse rules flagged, with the features
-- those rules computed, one row per transaction. The rule models hold a few
-- hundred rows each; silver_transactions joins this one table instead of
-- seven (on 1M rows each join is a lookup per row: ~0.4 s apiece). A flag
-- is NULL where its rule did not fire; silver_transactions makes it 0, as
-- it does for the rows no sparse rule flagged.

with

flagged as (
    select transaction_id from silver_rule_night_pix_limit
    union
    select transaction_id from silver_rule_structuring
    union
    select transaction_id from silver_rule_card_testing
    union
    select transaction_id from silver_rule_new_device
    union
    select transaction_id from silver_rule_mule_fan_in
    union
    select transaction_id from silver_rule_pass_through
    union
    select transaction_id from silver_rule_first_time_payee
),

final as (
    select
        f.transaction_id,
        ct.probes_in_window,
        ct.declines_in_window,
        nd.device_first_day_cents,
        fi.new_payers_in_window,
        fi.new_payer_cents_in_window,
        pt.recent_inflow_cents,
        pt.recent_outflow_cents,
        fp.payer_baseline_cents,
        fp.payee_outsized_first_payments,
        pt.is_pass_through as is_mule_pass_through,
        ct.is_card_testing,
        fi.is_mule_fan_in,
        fp.is_first_time_payee,
        nl.is_night_pix_limit,
        nd.is_new_device,
        st.is_structuring
    from flagged as f
    left join silver_rule_night_pix_limit as nl
        on f.transaction_id = nl.transaction_id
    left join silver_rule_structuring as st
        on f.transaction_id = st.transaction_id
    left join silver_rule_card_testing as ct
        on f.transaction_id = ct.transaction_id
    left join silver_rule_new_device as nd
        on f.transaction_id = nd.transaction_id
    left join silver_rule_mule_fan_in as fi
        on f.transaction_id = fi.transaction_id
    left join silver_rule_pass_through as pt
        on f.transaction_id = pt.transaction_id
    left join silver_rule_first_time_payee as fp
        on f.transaction_id = fp.transaction_id
)

select * from final
