{#
  A row's device first use, in one place for the two files that read it
  (silver/silver_transactions.sql, gold/rule_coverage.sql): the source's
  value where it gave one, else the one derived from the history
  (silver/silver_device_first_use.sql, ``device``), known only where that
  model says so. ``bronze`` and ``device`` are the aliases of Bronze and of
  the device model, joined by transaction_id.
#}

{% macro device_first_use(bronze, device) -%}
coalesce({{ bronze }}.device_first_seen_epoch, {{ device }}.device_first_seen_epoch)
            as device_first_seen_epoch,
        case
            when {{ bronze }}.device_first_seen_epoch is not null then 1
            else coalesce({{ device }}.device_first_use_known, 0)
        end as device_first_use_known
{%- endmacro %}
