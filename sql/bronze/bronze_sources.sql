-- Where Bronze's transactions came from: the generator or files (drops,
-- exports through a source mapping). A folder of exports only is no place
-- for a synthetic month (flows.medallion refuses it).

select
    cast(
        coalesce(sum(case when source like 'generator:%' then 1 else 0 end), 0)
        as bigint
    ) as generated,
    cast(
        coalesce(sum(case when source like 'generator:%' then 0 else 1 end), 0)
        as bigint
    ) as ingested
from bronze_transactions
