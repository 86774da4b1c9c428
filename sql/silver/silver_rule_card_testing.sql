-- Rule: card testing. Runs of tiny online payments on one card (probes of
-- cents to a few reais, often declined), then a large card-not-present
-- purchase. Flags every online payment on the card inside a window holding
-- enough probes. Rows without a card id are not judged.
-- Sums are cast to bigint: DuckDB sums integers as 128-bit (portable-sql.md).

with

online_card as (
    select
        transaction_id,
        created_at_epoch,
        card_id,
        case
            when amount_cents <= :card_testing_max_cents then 1 else 0
        end as is_probe,
        case when auth_status = 'declined' then 1 else 0 end as is_declined
    from bronze_transactions
    where channel in ('credit', 'debit')
        and entry_mode = 'not_present'
        and card_id is not null
),

with_window as (
    select
        *,
        cast(sum(is_probe) over card_window as bigint) as probes_in_window,
        cast(sum(is_declined) over card_window as bigint)
            as declines_in_window
    from online_card
    window card_window as (
        partition by card_id
        order by created_at_epoch
        range between :card_testing_window_seconds preceding
        and :card_testing_window_seconds following
    )
),

final as (
    select
        transaction_id,
        probes_in_window,
        declines_in_window,
        1 as is_card_testing
    from with_window
    where probes_in_window >= :card_testing_min_probes
)

select * from final
