{#
  Where a row stands for the map: 1 when it has a bairro (what the map
  draws); 1 when it has no point at all (no bairro, and lat or lon missing:
  a source with no place, or a row without one). A row with coordinates and
  no bairro is neither. The dashboard counts both over Silver and over the
  alert queue alike.
#}

{% macro has_bairro() -%}
case when bairro is not null then 1 else 0 end
{%- endmacro %}

{% macro has_no_point() -%}
case when bairro is null and (lat is null or lon is null) then 1 else 0 end
{%- endmacro %}
