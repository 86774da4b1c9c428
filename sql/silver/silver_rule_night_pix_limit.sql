-- Rule: night Pix limit (Res. BCB 142/2021). The payer's running total of
-- night PF to PF Pix goes over their limit (R$ 1.000 unless they raised it).

with

night_pix as (
    select
        transaction_id,
        night_running_cents,
        night_limit_cents
    from silver_night_pix
),

final as (
    select
        transaction_id,
        night_running_cents,
        night_limit_cents,
        1 as is_night_pix_limit
    from night_pix
    where night_running_cents > night_limit_cents
)

select * from final
