-- Customers with rows from the files loaded after_log_seq < log_seq <=
-- up_to_log_seq: the ones an incremental Silver refresh must recompute
-- (rows with no customer are recomputed as new rows, each on its own).

with

files as (
    select
        batch_id
    from ingestion_log
    where status = 'loaded'
        and log_seq > :after_log_seq
        and log_seq <= :up_to_log_seq
),

final as (
    select distinct
        t.customer_id
    from bronze_transactions as t
    inner join files as f
        on t.batch_id = f.batch_id
    where t.customer_id is not null
)

select * from final
order by customer_id
