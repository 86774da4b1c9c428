{#
  Times are epoch seconds in every table; the local calendar is America/Bahia's
  fixed offset (settings.rules.utc_offset_seconds, no daylight saving since
  2012), applied the same way wherever a model needs the hour or the day.
#}

{% macro local_hour(epoch) -%}
cast(floor((({{ epoch }} + :utc_offset_seconds) % 86400) / 3600e0) as bigint)
{%- endmacro %}

{% macro local_day(epoch) -%}
cast(floor(({{ epoch }} + :utc_offset_seconds) / 86400e0) as bigint)
{%- endmacro %}

{#
  1 for an hour of the night as the customer features count it: the Pix
  night's default hours (rules.night_start_hour_default to night_end_hour,
  Res. BCB 142/2021), the same for every row.
#}
{% macro is_night(hour) -%}
case
    when {{ hour }} >= :night_start_hour_default
        or {{ hour }} < :night_end_hour
        then 1
    else 0
end
{%- endmacro %}
