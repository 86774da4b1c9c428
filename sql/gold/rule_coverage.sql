-- What each rule could judge: the rows it applies to (Pix rows for the Pix
-- rules, card rows for card testing, in-person rows for travel), and among
-- them those it could not judge because a field it reads is missing (CSV
-- drops from other systems may not carry every optional column), with the
-- fields that stopped it. A rule never fires on a guess. "Not applicable:
-- no Pix rows" and "judged, 0 flagged" read differently in the report.
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
        case when channel = 'pix' then 1 else 0 end as is_pix,
        case when channel in ('credit', 'debit') then 1 else 0 end as is_card,
        case
            when entry_mode is null or entry_mode <> 'not_present' then 1
            else 0
        end as in_person,
        case
            when lat is null
                or lon is null
                or lat < :region_lat_min
                or lat > :region_lat_max
                or lon < :region_lon_min
                or lon > :region_lon_max
                then 1
            else 0
        end as no_place,
        case
            when card_id is null or entry_mode is null then 1 else 0
        end as no_card,
        case
            when payer_type is null
                or payee_type is null
                or is_same_owner is null
                then 1
            else 0
        end as no_payee_kind,
        case
            when payer_type is null
                or payee_type is null
                or is_same_owner is null
                or payee_id is null
                then 1
            else 0
        end as no_payee,
        case
            when device_id is null or device_first_seen_epoch is null then 1
            else 0
        end as no_device,
        case
            when device_first_seen_epoch is null then 1 else 0
        end as no_device_age
    from transactions
),

totals as (
    select
        count(*) as all_rows,
        cast(coalesce(sum(is_pix), 0) as bigint) as pix_rows,
        cast(coalesce(sum(is_card), 0) as bigint) as card_rows,
        cast(coalesce(sum(in_person), 0) as bigint) as in_person_rows,
        cast(coalesce(sum(in_person * no_place), 0) as bigint) as no_place,
        cast(coalesce(sum(is_card * no_card), 0) as bigint) as no_card,
        cast(coalesce(sum(is_pix * no_payee_kind), 0) as bigint) as no_payee_kind,
        cast(coalesce(sum(is_pix * no_payee), 0) as bigint) as no_payee,
        cast(coalesce(sum(is_pix * no_device), 0) as bigint) as no_pix_device,
        cast(coalesce(sum(no_device_age), 0) as bigint) as no_device_age
    from gaps
),

final as (
    select
        'impossible_travel' as rule,
        'in-person rows (not online card payments)' as applies_to,
        in_person_rows as rows_applicable,
        no_place as rows_not_judged,
        'lat/lon inside the region' as missing_fields
    from totals
    union all
    select
        'mule_pass_through',
        'Pix rows',
        pix_rows,
        no_payee,
        'payee_id, payer_type, payee_type or is_same_owner'
    from totals
    union all
    select
        'card_testing',
        'card rows (credit, debit)',
        card_rows,
        no_card,
        'card_id or entry_mode'
    from totals
    union all
    select
        'mule_fan_in',
        'Pix rows',
        pix_rows,
        no_payee,
        'payee_id, payer_type, payee_type or is_same_owner'
    from totals
    union all
    select
        'first_time_payee',
        'Pix rows',
        pix_rows,
        no_payee,
        'payee_id, payer_type, payee_type or is_same_owner'
    from totals
    union all
    select
        'night_pix_limit',
        'Pix rows',
        pix_rows,
        no_payee_kind,
        'payer_type, payee_type or is_same_owner'
    from totals
    union all
    select
        'new_device',
        'Pix rows',
        pix_rows,
        no_pix_device,
        'device_id or device_first_seen_at'
    from totals
    union all
    select 'velocity_burst', 'all rows', all_rows, 0, '' from totals
    union all
    select
        'structuring',
        'Pix rows',
        pix_rows,
        no_payee_kind,
        'payer_type, payee_type or is_same_owner'
    from totals
    union all
    select
        'amount_spike',
        'all rows',
        all_rows,
        no_device_age,
        'device_first_seen_at'
    from totals
)

select * from final
