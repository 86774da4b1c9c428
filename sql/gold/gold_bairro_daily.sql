-- Gold: transactions and anomalies per bairro and local day, for a map or a
-- heat table in the dashboard. Grouped by day first: SQLite sorts the
-- groups, and an integer first key sorts faster than the bairro name.
-- Sums are cast to bigint: DuckDB sums integers as 128-bit (portable-sql.md).

with

silver as (
    select
        bairro,
        local_day,
        amount_cents,
        case when anomaly_flag <> 'Normal' then 1 else 0 end as is_anomaly,
        is_impossible_travel,
        is_mule_pass_through,
        is_card_testing,
        is_mule_fan_in,
        is_first_time_payee,
        is_night_pix_limit,
        is_new_device,
        is_velocity_burst,
        is_structuring,
        is_amount_spike
    from silver_transactions
),

final as (
    select
        bairro,
        local_day,
        count(*) as transactions,
        cast(sum(amount_cents) as bigint) as amount_cents,
        cast(sum(is_anomaly) as bigint) as anomalies,
        cast(sum(is_anomaly) as double) / count(*) as anomaly_rate,
        cast(sum(is_impossible_travel) as bigint) as impossible_travel_flags,
        cast(sum(is_mule_pass_through) as bigint) as mule_pass_through_flags,
        cast(sum(is_card_testing) as bigint) as card_testing_flags,
        cast(sum(is_mule_fan_in) as bigint) as mule_fan_in_flags,
        cast(sum(is_first_time_payee) as bigint) as first_time_payee_flags,
        cast(sum(is_night_pix_limit) as bigint) as night_pix_limit_flags,
        cast(sum(is_new_device) as bigint) as new_device_flags,
        cast(sum(is_velocity_burst) as bigint) as velocity_burst_flags,
        cast(sum(is_structuring) as bigint) as structuring_flags,
        cast(sum(is_amount_spike) as bigint) as amount_spike_flags
    from silver
    group by local_day, bairro
)

select * from final
