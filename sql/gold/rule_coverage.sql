-- Rows each rule could not judge because a field it reads is missing (CSV
-- drops from other systems may not carry every optional column). A rule
-- never fires on a guess; the run summary reports these counts.
-- Sums are cast to bigint: DuckDB sums integers as 128-bit (portable-sql.md).

with

transactions as (
    select
        channel,
        payer_type,
        payee_id,
        payee_type,
        is_same_owner,
        card_id,
        entry_mode,
        device_id,
        device_first_seen_epoch,
        lat,
        lon
    from bronze_transactions
),

gaps as (
    select
        case
            when (lat is null or lon is null)
                and (entry_mode is null or entry_mode <> 'not_present')
                then 1
            else 0
        end as no_place,
        case
            when channel in ('credit', 'debit')
                and (card_id is null or entry_mode is null)
                then 1
            else 0
        end as no_card,
        case
            when channel = 'pix'
                and (
                    payer_type is null
                    or payee_type is null
                    or is_same_owner is null
                )
                then 1
            else 0
        end as no_payee_kind,
        case
            when channel = 'pix' and payee_id is null then 1 else 0
        end as no_payee,
        case
            when channel = 'pix'
                and (device_id is null or device_first_seen_epoch is null)
                then 1
            else 0
        end as no_pix_device,
        case
            when device_first_seen_epoch is null then 1 else 0
        end as no_device_age
    from transactions
),

totals as (
    select
        cast(sum(no_place) as bigint) as no_place,
        cast(sum(no_card) as bigint) as no_card,
        cast(sum(no_payee_kind) as bigint) as no_payee_kind,
        cast(sum(no_payee) as bigint) as no_payee,
        cast(sum(no_pix_device) as bigint) as no_pix_device,
        cast(sum(no_device_age) as bigint) as no_device_age
    from gaps
),

final as (
    select 'impossible_travel' as rule, no_place as rows_not_judged
    from totals
    union all
    select 'mule_pass_through', no_payee_kind + no_payee from totals
    union all
    select 'card_testing', no_card from totals
    union all
    select 'mule_fan_in', no_payee_kind + no_payee from totals
    union all
    select 'first_time_payee', no_payee_kind + no_payee from totals
    union all
    select 'night_pix_limit', no_payee_kind from totals
    union all
    select 'new_device', no_pix_device from totals
    union all
    select 'velocity_burst', 0 from totals
    union all
    select 'structuring', no_payee_kind from totals
    union all
    select 'amount_spike', no_device_age from totals
)

select * from final
