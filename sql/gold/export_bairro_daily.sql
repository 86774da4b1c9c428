-- data/gold_bairro_daily.csv: one row per bairro and local day.
select *
from gold_bairro_daily
order by local_day, bairro
