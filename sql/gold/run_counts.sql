-- Headline numbers for the run summary.
with

counts as (
    select
        (select count(*) from bronze_transactions) as transactions,
        (select count(distinct customer_id) from bronze_transactions)
            as customers,
        (select count(*) from gold_anomalies) as anomalies,
        (
            select count(*) from gold_anomalies
            where risk_level = 'critical'
        ) as critical,
        (
            select count(*) from gold_anomalies
            where risk_level = 'high'
        ) as high
)

select * from counts
