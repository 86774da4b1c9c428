-- Rule: impossible travel (a cloned card used far away minutes later).
-- Only rows with a physical place: card-present payments and Pix/boleto
-- from the customer's phone. An online card payment's place is a guess
-- from the device, so it is left out; rows without coordinates, or with
-- coordinates outside the region (settings.region: a card used in another
-- state or country is not a Salvador trip), are not judged, nor are rows
-- with no customer (whose trip would it be?). A move of at least hop_min_distance_km at an implied speed over
-- hop_max_speed_kmh is too fast for Salvador; the row that comes back to
-- where the customer was two rows before is the real card, not the clone.

with

located as (
    select
        transaction_id,
        created_at_epoch,
        customer_id,
        bairro,
        lat,
        lon
    from bronze_transactions
    where lat between :region_lat_min and :region_lat_max
        and lon between :region_lon_min and :region_lon_max
        and (entry_mode is null or entry_mode <> 'not_present')
        and customer_id is not null
),

with_previous as (
    select
        *,
        lag(created_at_epoch) over timeline as prev_created_at_epoch,
        lag(bairro) over timeline as prev_bairro,
        lead(created_at_epoch) over timeline as next_created_at_epoch,
        lead(bairro) over timeline as next_bairro,
        lag(lat) over timeline as prev_lat,
        lag(lon) over timeline as prev_lon,
        lag(created_at_epoch, 2) over timeline as prev2_created_at_epoch,
        lag(lat, 2) over timeline as prev2_lat,
        lag(lon, 2) over timeline as prev2_lon
    from located
    window timeline as (
        partition by customer_id
        order by created_at_epoch, transaction_id
    )
),

with_haversine_inputs as (
    -- sin^2(dlat/2) + cos(lat1) cos(lat2) sin^2(dlon/2), for the previous
    -- row, the one before it, and between those two.
    select
        *,
        power(sin(radians(lat - prev_lat) / 2), 2)
        + cos(radians(prev_lat)) * cos(radians(lat))
        * power(sin(radians(lon - prev_lon) / 2), 2) as hav_prev,
        power(sin(radians(lat - prev2_lat) / 2), 2)
        + cos(radians(prev2_lat)) * cos(radians(lat))
        * power(sin(radians(lon - prev2_lon) / 2), 2) as hav_prev2,
        power(sin(radians(prev_lat - prev2_lat) / 2), 2)
        + cos(radians(prev2_lat)) * cos(radians(prev_lat))
        * power(sin(radians(prev_lon - prev2_lon) / 2), 2) as hav_prev_leg
    from with_previous
),

with_distances as (
    -- Clamp to [0, 1]: rounding can push the argument past 1 and engines
    -- disagree on asin(1.0000001) (NULL or NaN).
    select
        *,
        2 * 6371.0088 * asin(sqrt(
            case when hav_prev > 1 then 1 else hav_prev end
        )) as distance_km,
        2 * 6371.0088 * asin(sqrt(
            case when hav_prev2 > 1 then 1 else hav_prev2 end
        )) as distance_from_prev2_km,
        2 * 6371.0088 * asin(sqrt(
            case when hav_prev_leg > 1 then 1 else hav_prev_leg end
        )) as prev_leg_km,
        created_at_epoch - prev_created_at_epoch as seconds_since_prev,
        prev_created_at_epoch - prev2_created_at_epoch as prev_leg_seconds
    from with_haversine_inputs
),

with_hops as (
    select
        *,
        -- Same-second moves count as too fast.
        case
            when distance_km >= :hop_min_distance_km
                and distance_km * 3600
                > :hop_max_speed_kmh * seconds_since_prev
                then 1
            else 0
        end as is_hop_from_prev,
        case
            when prev_leg_km >= :hop_min_distance_km
                and prev_leg_km * 3600 > :hop_max_speed_kmh * prev_leg_seconds
                and distance_from_prev2_km < :hop_min_distance_km
                then 1
            else 0
        end as is_return_from_hop
    from with_distances
),

final as (
    select
        transaction_id,
        prev_created_at_epoch,
        prev_bairro,
        next_created_at_epoch,
        next_bairro,
        distance_km,
        seconds_since_prev / 60e0 as minutes_since_prev,
        distance_km * 3600 / nullif(seconds_since_prev, 0)
            as implied_speed_kmh,
        case
            when is_hop_from_prev = 1 and is_return_from_hop = 0 then 1
            else 0
        end as is_impossible_travel
    from with_hops
)

select * from final
