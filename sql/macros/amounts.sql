{#
  A payment's amount as the log of its cents in integer thousandths: sums and
  means of these are exact on every engine (integers), where sums of floats
  differ in their last bits from engine to engine (sql/portable-sql.md); one
  exp or division per value turns them back.
#}

{% macro log_amount_milli(cents) -%}
case
            when {{ cents }} > 0
                then cast(
                    floor(ln(cast({{ cents }} as double)) * 1000 + 0.5)
                    as bigint
                )
            else 0
        end
{%- endmacro %}
