-- The Bronze rows of the ids a drop brings (temp.drop_ids, filled by
-- ssa/intake/conflicts.py) that another batch loaded: compared with the drop's
-- rows, an equal one is a duplicate and a different one a conflict.

with

drop_ids as (
    select
        transaction_id
    from temp.drop_ids
),

final as (
    select
        t.*
    from bronze_transactions as t
    inner join drop_ids as d
        on t.transaction_id = d.transaction_id
    where t.batch_id <> :batch_id
)

select * from final
