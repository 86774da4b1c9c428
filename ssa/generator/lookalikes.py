"""Legitimate look-alikes: honest behaviour that resembles a fraud typology.

Planted beside the fraud and labelled legitimate (``is_fraud = 0``), so the
detection report's precision means something (fact sheet, "Honest
evaluation"). Each function mirrors a scenario in ``scenarios.py`` and
differs from it only where real life differs, never by a column quirk.
"""

from __future__ import annotations

import numpy as np

from ssa.generator import frame as F
from ssa.generator.people import CATEGORIES, ONLINE_CATEGORIES
from ssa.generator.scenarios import (
    NIGHT_HOURS,
    Context,
    incident_times,
    local_time,
    merchants_of,
    one_row_each,
    pick_victims,
    pix_rows,
    random_days,
    recent_mean,
    strangers,
)
from ssa.local_time import SECONDS_PER_DAY, local_hour

LOOKALIKE_PREFIX = "lookalike_"
AIRPORT = "Aeroporto"
BIG_TICKET_CATEGORIES = np.array(
    [i for i, c in enumerate(CATEGORIES) if c.name in ("eletronicos", "vestuario")]
)


def _next_gap(ctx: Context) -> np.ndarray:
    """Seconds until the same customer's next legitimate row (inf at the end)."""
    cust, t = ctx.legit["cust"], ctx.legit["t"]
    gap = np.full(len(t), np.inf)
    same = cust[1:] == cust[:-1]
    gap[:-1][same] = np.diff(t)[same]
    return gap


def fast_trip(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """A car to the airport in the small hours: far and fast, but possible.

    45-75 km/h door to door, under the 80 km/h urban maximum; the customer's
    next payment is hours later (they flew), so nothing teleports back.
    """
    lg, b = ctx.legit, ctx.bairros
    hour = local_hour(lg["t"], ctx.utc_offset_seconds)
    airport = int(np.flatnonzero(b.names == AIRPORT)[0])
    far = b.distance_km[lg["loc"], airport] >= 8.0
    eligible = (
        ((hour >= 22) | (hour < 5))
        & far
        & ~b.is_island[lg["loc"]]
        & (_next_gap(ctx) > 4 * 3600)
    )
    victims = pick_victims(ctx, rate, np.unique(lg["cust"][eligible]))
    anchor = one_row_each(ctx, eligible, victims)
    n = len(anchor)
    km = b.distance_km[lg["loc"][anchor], airport]
    speed = ctx.rng.uniform(45, 75, n)
    cols = F.empty(n)
    cols["cust"] = lg["cust"][anchor]
    cols["t"] = lg["t"][anchor] + np.maximum(np.ceil(km / speed * 3600), 60).astype(
        np.int64
    )
    cols["channel"][:] = F.DEBIT
    cols["loc"][:] = airport
    merchant_bairro = ctx.merchants["bairro_idx"].to_numpy()
    at_airport = np.flatnonzero(merchant_bairro == airport)
    pool = at_airport if len(at_airport) else np.arange(len(ctx.merchants))
    cols["merchant"] = pool[ctx.rng.integers(0, len(pool), n)]
    cols["amount_cents"] = np.round(ctx.rng.lognormal(np.log(35), 0.5, n) * 100).astype(
        np.int64
    )
    cols["device"] = len(ctx.customers) + cols["merchant"]
    return cols


def big_purchase(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """A one-off 10-30x purchase, card in hand at a shop near the customer."""
    lg = ctx.legit
    cust = lg["cust"]
    rank = np.arange(len(cust)) - np.searchsorted(cust, cust)
    eligible = (rank >= 10) & (_next_gap(ctx) > 3600)
    victims = pick_victims(ctx, rate, np.unique(cust[eligible]))
    anchor = one_row_each(ctx, eligible, victims)
    n = len(anchor)
    usual = recent_mean(ctx, anchor)
    cols = F.empty(n)
    cols["cust"] = cust[anchor]
    cols["t"] = lg["t"][anchor] + ctx.rng.integers(300, 3000, n)
    cols["channel"][:] = F.CREDIT
    cols["loc"] = lg["loc"][anchor]
    cols["merchant"] = merchants_of(ctx, BIG_TICKET_CATEGORIES, n)
    cols["amount_cents"] = np.maximum(
        np.round(usual * ctx.rng.uniform(10, 30, n)),
        120_000 + ctx.rng.integers(0, 50_000, n),
    ).astype(np.int64)
    cols["device"] = len(ctx.customers) + cols["merchant"]
    return cols


def night_company(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """Big night Pix to a company or to one's own account: outside the limit."""
    victims = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    sizes = ctx.rng.integers(1, 4, len(victims))
    hour = ctx.rng.choice(NIGHT_HOURS, len(victims))
    incident, t = incident_times(ctx, sizes, hour, (120, 1800))
    cols = pix_rows(ctx, victims[incident], t)
    n = len(t)
    to_self = ctx.rng.random(n) < 0.5
    cols["payee_kind"] = np.where(to_self, F.TO_SELF, F.TO_COMPANY).astype(np.int8)
    cols["payee_cust"] = np.where(to_self, cols["cust"], F.NO_ID)
    cols["merchant"] = np.where(
        to_self, F.NO_ID, merchants_of(ctx, ONLINE_CATEGORIES, n)
    )
    limit = ctx.customers["night_limit_cents"].to_numpy()[cols["cust"]]
    cols["amount_cents"] = np.round(limit * ctx.rng.uniform(1.05, 2.5, n)).astype(
        np.int64
    )
    return cols


def new_payee_large(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """Rent or a used car: a first, large Pix to someone new, in daytime."""
    victims = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    n = len(victims)
    t = local_time(ctx, random_days(ctx, n), ctx.rng.integers(9, 18, n))
    cols = pix_rows(ctx, victims, t)
    cols["amount_cents"] = np.round(
        ctx.rng.lognormal(np.log(2_500), 0.6, n) * 100
    ).astype(np.int64)
    return cols


def market_stall(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """A Saturday market stall paid by Pix to the owner's own (PF) account.

    Many payers who never paid the owner before, within a morning: the
    legitimate twin of a mule's fan-in.
    """
    owners = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    sizes = ctx.rng.integers(15, 41, len(owners))
    n = int(sizes.sum())
    incident = np.repeat(np.arange(len(owners)), sizes)
    days = np.arange((ctx.period_end - ctx.period_start) // SECONDS_PER_DAY)
    weekday = (ctx.period_start // SECONDS_PER_DAY + 3 + days) % 7  # 1970-01-01 was Thu
    saturdays = days[weekday == 5]
    day = (
        ctx.rng.choice(saturdays, len(owners))
        if len(saturdays)
        else random_days(ctx, len(owners))
    )
    start = local_time(ctx, day, ctx.rng.integers(7, 10, len(owners)))
    t = start[incident] + ctx.rng.integers(0, 4 * 3600, n)
    cols = pix_rows(ctx, strangers(ctx, owners[incident]), t, payee=owners[incident])
    cols["amount_cents"] = np.round(ctx.rng.lognormal(np.log(18), 0.6, n) * 100).astype(
        np.int64
    )
    return cols


def switch_phones(ctx: Context, rate: float, max_tx_cents: int) -> np.ndarray:
    """Some customers change phone mid-month and use the new one normally.

    Rewrites the device of their later phone rows in ``ctx.legit`` and
    returns the indices of the new phone's first-day rows, the look-alikes
    of a fraudster's new device.
    """
    lg = ctx.legit
    phone = lg["device"] == lg["cust"]
    victims = pick_victims(ctx, rate, np.unique(lg["cust"][phone]))
    anchor = one_row_each(ctx, phone, victims)
    switch_at = np.full(len(ctx.customers), np.iinfo(np.int64).max)
    switch_at[lg["cust"][anchor]] = lg["t"][anchor]
    new_device = np.full(len(ctx.customers), -1)
    new_device[lg["cust"][anchor]] = ctx.devices.add(lg["t"][anchor] - 60)
    moved = phone & (lg["t"] >= switch_at[lg["cust"]])
    lg["device"] = np.where(moved, new_device[lg["cust"]], lg["device"])
    first_day = moved & (lg["t"] < switch_at[lg["cust"]] + SECONDS_PER_DAY)
    # Res. BCB 403/2024: until the phone is registered the bank refuses Pix
    # over R$ 200, so the customer sends a smaller amount.
    over = first_day & (lg["channel"] == F.PIX) & (lg["amount_cents"] > max_tx_cents)
    lg["amount_cents"] = np.where(
        over, ctx.rng.integers(5_000, max_tx_cents, len(over)), lg["amount_cents"]
    )
    return np.flatnonzero(first_day)


LOOKALIKES = {
    "fast_trip": fast_trip,
    "big_purchase": big_purchase,
    "night_company": night_company,
    "new_payee_large": new_payee_large,
    "market_stall": market_stall,
}
