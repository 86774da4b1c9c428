-- The source features a mapping declared (sources/<name>.yaml: features),
-- one JSON object per transaction that has any. Only the risk model reads
-- this, in training and in scoring, where it joins them to the rows of
-- features.sql by transaction_id; detection never does.

with

final as (
    select
        transaction_id,
        features_json
    from bronze_source_features
)

select * from final
