-- What a demo drop (flows/make_drop.py) extends: the synthetic month's seed
-- (in its source, 'generator:seed=42') and customer count, and the last
-- moment any Bronze row reaches, so the next drop starts after it.

with

generated_customers as (
    select
        source
    from bronze_customers
    where source like 'generator:%'
),

customers as (
    select
        min(source) as generator_source,
        count(*) as customers
    from generated_customers
),

latest as (
    select
        max(created_at_epoch) as last_created_at_epoch
    from bronze_transactions
),

final as (
    select
        c.generator_source,
        c.customers,
        l.last_created_at_epoch
    from customers as c
    cross join latest as l
)

select * from final
