-- Loaded files whose new rows Silver and Gold do not reflect yet: those after
-- the last recorded refresh and after what the watcher already handed to a
-- refresh in this process (:handed_off_log_seq).

with

last_refresh as (
    select
        coalesce(max(up_to_log_seq), 0) as up_to_log_seq
    from ingestion_refresh
),

final as (
    select
        l.log_seq,
        l.file_name,
        l.batch_id,
        l.rows_loaded,
        r.up_to_log_seq as refreshed_up_to_log_seq
    from ingestion_log as l
    cross join last_refresh as r
    where l.status = 'loaded'
        and l.rows_loaded > 0
        and l.log_seq > r.up_to_log_seq
        and l.log_seq > :handed_off_log_seq
)

select * from final
order by log_seq
