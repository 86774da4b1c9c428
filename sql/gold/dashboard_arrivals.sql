-- The dashboard's "Chegando agora": the latest files the watched folder
-- took in (loaded, skipped as already seen, or quarantined), newest first,
-- each with the system it came from (NULL: logged before the log had the
-- column; the page says unknown).

with

ingestion_log_files as (
    select
        log_seq,
        file_name,
        source,
        status,
        rows_loaded,
        rows_rejected,
        rows_duplicate,
        -- Empty in a Spark log written before the column: none skipped.
        coalesce(rows_skipped, 0) as rows_skipped,
        finished_at
    from ingestion_log
),

final as (
    select
        log_seq,
        file_name,
        source,
        status,
        rows_loaded,
        rows_rejected,
        rows_duplicate,
        rows_skipped,
        finished_at
    from ingestion_log_files
    order by log_seq desc
    limit :arrival_rows
)

select * from final
order by log_seq desc
