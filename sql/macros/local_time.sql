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
