-- What each rule could judge: the rows it applies to (Pix rows for the Pix
-- rules, card rows for card testing, in-person rows for travel), and among
-- them those it could not judge because a field it reads is missing (CSV
-- drops from other systems may not carry every optional column), with the
-- fields that stopped it. A rule never fires on a guess. "Not applicable:
-- no Pix rows" and "judged, 0 flagged" read differently in the report.
-- Sums are cast to bigint: DuckDB sums integers as 128-bit (portable-sql.md).
--
-- A device's first use a source did not give is derived from the history
-- (silver_device_first_use.sql), and may not be known yet: the rules that
-- test a device's age (``warm_up`` in ssa/rules.py) do not judge a row whose
-- device is younger than the age they test and whose first use is not
-- known, and say since when the history of those rows' customers runs.
{% from 'macros/local_time.sql' import local_day %}
{% from 'macros/devices.sql' import device_first_use %}

with

devices as (
    select
        transaction_id,
        device_first_seen_epoch,
        device_first_use_known,
        customer_since_epoch
    from silver_device_first_use
),

transactions as (
    select
        t.created_at_epoch,
        t.customer_id,
        t.channel,
        t.payer_type,
        t.payee_id,
        t.payee_type,
        t.is_same_owner,
        t.card_id,
        t.entry_mode,
        t.device_id,
        {{ device_first_use('t', 'd') }},
        d.customer_since_epoch,
        t.lat,
        t.lon
    from bronze_transactions as t
    left join devices as d
        on t.transaction_id = d.transaction_id
),

gaps as (
    select
        case when channel = 'pix' then 1 else 0 end as is_pix,
        case when channel in ('credit', 'debit') then 1 else 0 end as is_card,
        case
            when entry_mode is null or entry_mode <> 'not_present' then 1
            else 0
        end as in_person,
        1 as any_row,
        -- One gap per field a rule needs (ssa/rules.py, ``needs``), so the
        -- report names the fields a file lacked, not all a rule reads.
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
        case when customer_id is null then 1 else 0 end as no_customer_id,
        case when card_id is null then 1 else 0 end as no_card_id,
        case when entry_mode is null then 1 else 0 end as no_entry_mode,
        case when payer_type is null then 1 else 0 end as no_payer_type,
        case when payee_type is null then 1 else 0 end as no_payee_type,
        case when is_same_owner is null then 1 else 0 end as no_is_same_owner,
        case when payee_id is null then 1 else 0 end as no_payee_id,
        case when device_id is null then 1 else 0 end as no_device_id,
        case
            when device_first_seen_epoch is null then 1 else 0
        end as no_device_first_seen_at,
{% for rule in warm_up_rules %}
        -- Not known yet, and younger than the age the rule tests.
        case
            when device_first_seen_epoch is not null
                and device_first_use_known = 0
                and created_at_epoch - device_first_seen_epoch
                < :{{ rule.warm_up }}
                then 1
            else 0
        end as warm_{{ rule.name }},
{% endfor %}
        customer_since_epoch
    from transactions
),

{% set flags = {'all': 'any_row', 'pix': 'is_pix', 'card': 'is_card', 'in_person': 'in_person'} %}
totals as (
    -- A row in a rule's scope that lacks any field it needs is not judged.
    select
        count(*) as all_rows,
        cast(coalesce(sum(is_pix), 0) as bigint) as pix_rows,
        cast(coalesce(sum(is_card), 0) as bigint) as card_rows,
        cast(coalesce(sum(in_person), 0) as bigint) as in_person_rows,
{% for rule in rules %}
{% if rule.need_columns %}
        cast(coalesce(sum(
            case
                when {% for field in rule.need_columns %}{{ " or " if not loop.first }}no_{{ field }} = 1{% endfor %}

                    then {{ flags[rule.scope] }}
                else 0
            end
        ), 0) as bigint) as unjudged_{{ rule.name }},
{% else %}
        cast(0 as bigint) as unjudged_{{ rule.name }},
{% endif %}
{% endfor %}
{% for rule in warm_up_rules %}
{% set judged %}{% for field in rule.need_columns %} and no_{{ field }} = 0{% endfor %}{% endset %}
        -- Rows it could judge by their fields, but whose device's first use
        -- is not known yet.
        cast(coalesce(sum(
            case
                when warm_{{ rule.name }} = 1{{ judged }}
                    then {{ flags[rule.scope] }}
                else 0
            end
        ), 0) as bigint) as warm_{{ rule.name }},
        min(
            case
                when warm_{{ rule.name }} = 1{{ judged }}
                    and {{ flags[rule.scope] }} = 1
                    then customer_since_epoch
            end
        ) as since_{{ rule.name }},
{% endfor %}
{% for scope, field in coverage_gaps %}
        cast(
            coalesce(sum({{ flags[scope] }} * no_{{ field }}), 0) as bigint
        ) as gap_{{ scope }}_{{ field }}{{ "," if not loop.last }}
{% endfor %}
    from gaps
),

final as (
    -- One row per rule, from its entry in ssa/rules.py (scope, the gap
    -- above that stops it, the fields in words): a Jinja loop.
{% for rule in rules %}
    {% if not loop.first %}
    union all
    {% endif %}
    select
        '{{ rule.name }}' as rule,
        '{{ rule.applies_to }}' as applies_to,
        {{ rule.rows_column }} as rows_applicable,
        unjudged_{{ rule.name }}{{ (' + warm_' ~ rule.name) if rule.warm_up }} as rows_not_judged,
        {{ ('warm_' ~ rule.name) if rule.warm_up else 'cast(0 as bigint)' }} as rows_first_use_unknown,
        {{ local_day('since_' ~ rule.name) if rule.warm_up else 'cast(null as bigint)' }} as history_starts_day,
{% for field in coverage_fields %}
        {{ ('gap_' ~ rule.scope ~ '_' ~ field) if field in rule.need_columns else 'cast(0 as bigint)' }} as missing_{{ field }},
{% endfor %}
        '{{ rule.needs | join(",") }}' as needs
    from totals
{% endfor %}
)

select * from final
