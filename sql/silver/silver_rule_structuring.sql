-- Rule: structuring. Several night PF to PF Pix that together stay just
-- under the payer's night limit (at least structuring_min_share of it, never
-- over): the amount is split to pass the limit unnoticed. Flags every
-- transfer of that night.

with

night_pix as (
    select
        transaction_id,
        night_total_cents,
        night_transfers,
        night_limit_cents
    from silver_night_pix
),

final as (
    select
        transaction_id,
        night_total_cents,
        night_transfers,
        1 as is_structuring
    from night_pix
    where night_transfers >= :structuring_min_transfers
        and night_total_cents <= night_limit_cents
        and night_total_cents >= :structuring_min_share * night_limit_cents
)

select * from final
