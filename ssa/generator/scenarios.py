"""Planted fraud, one function per typology in the fact sheet.

Each scenario picks victims among the customers, reads their legitimate rows
for context (where they were, what they usually spend) and returns new rows in
the same integer-coded layout. Nothing but behaviour tells them apart: same id
scheme, same merchants, amounts to the centavo, times to the second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ssa.bairros import Bairros
from ssa.generator import frame as F
from ssa.generator.people import ONLINE_CATEGORIES

SCENARIOS = (
    "impossible_travel",
    "velocity_burst",
    "amount_spike",
    "night_pix_limit",
    "card_testing",
)


@dataclass
class DeviceBook:
    """First use of every device; fraudsters' phones are added as they appear."""

    first_seen: list[np.ndarray] = field(default_factory=list)
    size: int = 0

    def add(self, first_seen: np.ndarray) -> np.ndarray:
        idx = np.arange(self.size, self.size + len(first_seen))
        self.first_seen.append(np.asarray(first_seen, dtype=np.int64))
        self.size += len(first_seen)
        return idx

    def all_first_seen(self) -> np.ndarray:
        return np.concatenate(self.first_seen)


@dataclass
class Context:
    """What the scenarios may look at; built once per generation."""

    rng: np.random.Generator
    customers: pd.DataFrame
    merchants: pd.DataFrame
    bairros: Bairros
    legit: dict[str, np.ndarray]
    devices: DeviceBook
    period_start: int
    period_end: int
    utc_offset_seconds: int


def pick_victims(ctx: Context, rate: float, eligible: np.ndarray) -> np.ndarray:
    """Distinct customers hit once each, drawn among those eligible."""
    k = min(round(rate * len(ctx.customers)), len(eligible))
    return (
        np.sort(ctx.rng.choice(eligible, size=k, replace=False)) if k else eligible[:0]
    )


def one_row_each(ctx: Context, mask: np.ndarray, victims: np.ndarray) -> np.ndarray:
    """A random legitimate row per victim among the rows in mask."""
    rows = np.flatnonzero(mask & np.isin(ctx.legit["cust"], victims))
    rows = rows[ctx.rng.permutation(len(rows))]
    _, first = np.unique(ctx.legit["cust"][rows], return_index=True)
    return rows[first]


def merchants_of(ctx: Context, categories: np.ndarray, n: int) -> np.ndarray:
    pool = np.flatnonzero(np.isin(ctx.merchants["category_idx"].to_numpy(), categories))
    pool = pool if len(pool) else np.arange(len(ctx.merchants))
    return pool[ctx.rng.integers(0, len(pool), n)]


def strangers(ctx: Context, payer: np.ndarray) -> np.ndarray:
    """Payees the payer never paid: mule accounts among the customers."""
    n_c = len(ctx.customers)
    other = ctx.rng.integers(0, max(n_c - 1, 1), len(payer))
    return other + (other >= payer)


def current_location(ctx: Context, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Where each customer was at their last legitimate payment before t.

    A payment made from the customer's own phone happens where they are;
    placing it at home instead would teleport them (and trip the travel rule
    on a legitimate row).
    """
    lg = ctx.legit
    span = np.int64(ctx.period_end - ctx.period_start + 400 * 86_400)
    key = lg["cust"] * span + (lg["t"] - ctx.period_start)
    probe = cust * span + (t - ctx.period_start)
    pos = np.searchsorted(key, probe, side="right") - 1
    found = (pos >= 0) & (lg["cust"][np.maximum(pos, 0)] == cust)
    home = ctx.customers["home_bairro_idx"].to_numpy()[cust]
    return np.where(found, lg["loc"][np.maximum(pos, 0)], home)


def median_amount(ctx: Context, rows: np.ndarray | None = None) -> np.ndarray:
    """Each customer's median legitimate amount over the rows given.

    Customers with no such rows get R$ 45, the Pix PF to PF median.
    """
    lg = ctx.legit
    keep = np.ones(len(lg["cust"]), bool) if rows is None else rows
    cust, amount = lg["cust"][keep], lg["amount_cents"][keep]
    order = np.lexsort((amount, cust))
    cust, amount = cust[order], amount[order]
    ids = np.arange(len(ctx.customers))
    start = np.searchsorted(cust, ids)
    end = np.searchsorted(cust, ids, side="right")
    if len(amount) == 0:
        return np.full(len(ids), 4_500)
    mid = np.clip((start + end - 1) // 2, 0, len(amount) - 1)
    return np.where(end > start, amount[mid], 4_500)


def local_time(ctx: Context, day: np.ndarray, hour: np.ndarray) -> np.ndarray:
    seconds = ctx.rng.integers(0, 3600, len(day))
    return ctx.period_start + day * 86_400 + hour * 3600 + seconds


def random_days(ctx: Context, n: int) -> np.ndarray:
    return ctx.rng.integers(0, (ctx.period_end - ctx.period_start) // 86_400, n)


def offsets(sizes: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Seconds from each incident's first row, given the gap before each row."""
    first = np.cumsum(sizes) - sizes
    gaps = gaps.copy()
    gaps[first[sizes > 0]] = 0
    total = np.cumsum(gaps)
    return total - np.repeat(total[first[sizes > 0]], sizes[sizes > 0])


def impossible_travel(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """A cloned card used in person 8+ km away, 1-5 minutes after the real one."""
    lg = ctx.legit
    present = (
        (lg["channel"] == F.CREDIT) & ~lg["cnp"] & ~ctx.bairros.is_island[lg["loc"]]
    )
    victims = pick_victims(ctx, rate, np.unique(lg["cust"][present]))
    anchor = one_row_each(ctx, present, victims)
    n = len(anchor)
    far = (ctx.bairros.distance_km >= 8.0) & ~ctx.bairros.is_island[None, :]
    choice = np.array(
        [ctx.rng.choice(np.flatnonzero(far[b])) for b in lg["loc"][anchor]],
        dtype=np.int64,
    )
    cols = F.empty(n)
    cols["cust"] = lg["cust"][anchor]
    cols["t"] = lg["t"][anchor] + ctx.rng.integers(60, 301, n)
    cols["channel"][:] = F.CREDIT
    cols["loc"] = choice
    merchants = ctx.merchants["bairro_idx"].to_numpy()
    cols["merchant"] = np.array(
        [pick_in_bairro(ctx, merchants, b) for b in choice], dtype=np.int64
    )
    cols["amount_cents"] = np.round(
        ctx.rng.lognormal(np.log(300), 0.6, n) * 100
    ).astype(np.int64)
    cols["device"] = len(ctx.customers) + cols["merchant"]
    return cols


def pick_in_bairro(ctx: Context, merchant_bairro: np.ndarray, b: int) -> int:
    pool = np.flatnonzero(merchant_bairro == b)
    if len(pool) == 0:
        pool = np.arange(len(merchant_bairro))
    return int(pool[ctx.rng.integers(0, len(pool))])


def velocity_burst(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """Account takeover: 5-10 Pix to strangers within minutes, from a new phone."""
    victims = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    sizes = ctx.rng.integers(5, 11, len(victims))
    n = int(sizes.sum())
    night = ctx.rng.random(len(victims)) < 0.5
    hour = np.where(
        night,
        ctx.rng.choice([0, 1, 2, 3, 4, 21, 22, 23], len(victims)),
        ctx.rng.integers(8, 20, len(victims)),
    )
    start = local_time(ctx, random_days(ctx, len(victims)), hour)
    device = ctx.devices.add(start - ctx.rng.integers(0, 600, len(victims)))
    where = ctx.rng.choice(len(ctx.bairros), len(victims), p=ctx.bairros.home_weights)
    incident = np.repeat(np.arange(len(victims)), sizes)
    offset = offsets(sizes, ctx.rng.integers(20, 111, n))
    cols = F.empty(n)
    cols["cust"] = victims[incident]
    cols["t"] = start[incident] + offset
    cols["channel"][:] = F.PIX
    cols["payee_kind"][:] = F.TO_PERSON
    cols["payee_cust"] = strangers(ctx, cols["cust"])
    cols["amount_cents"] = np.round(
        ctx.rng.lognormal(np.log(350), 0.6, n) * 100
    ).astype(np.int64)
    cols["device"] = device[incident]
    cols["loc"] = where[incident]
    return cols


def amount_spike(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """One online card purchase 20-40x the customer's usual ticket."""
    lg = ctx.legit
    cust = lg["cust"]
    rank = np.arange(len(cust)) - np.searchsorted(cust, cust)
    eligible_rows = rank >= 10
    victims = pick_victims(ctx, rate, np.unique(cust[eligible_rows]))
    anchor = one_row_each(ctx, eligible_rows, victims)
    median = median_amount(ctx)[cust[anchor]]
    n = len(anchor)
    cols = F.empty(n)
    cols["cust"] = cust[anchor]
    cols["t"] = lg["t"][anchor] + ctx.rng.integers(600, 7200, n)
    cols["channel"][:] = F.CREDIT
    cols["cnp"][:] = True
    cols["merchant"] = merchants_of(ctx, ONLINE_CATEGORIES, n)
    factor = ctx.rng.uniform(20, 40, n)
    cols["amount_cents"] = np.maximum(
        np.round(median * factor), 120_000 + ctx.rng.integers(0, 50_000, n)
    ).astype(np.int64)
    # Stolen card data, used from the fraudster's own browser or phone.
    cols["device"] = ctx.devices.add(cols["t"] - ctx.rng.integers(0, 3 * 86_400, n))
    cols["loc"] = lg["loc"][anchor]
    return cols


def night_pix_limit(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """Night Pix to strangers that take the payer past the night limit."""
    victims = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    sizes = ctx.rng.integers(1, 4, len(victims))
    n = int(sizes.sum())
    incident = np.repeat(np.arange(len(victims)), sizes)
    # 22h-4h is night for every customer, whichever start they chose.
    hour = ctx.rng.choice([22, 23, 0, 1, 2, 3, 4], len(victims))
    start = local_time(ctx, random_days(ctx, len(victims)), hour)
    offset = offsets(sizes, ctx.rng.integers(120, 1800, n))
    limit = ctx.customers["night_limit_cents"].to_numpy()[victims]
    cols = F.empty(n)
    cols["cust"] = victims[incident]
    cols["t"] = start[incident] + offset
    cols["channel"][:] = F.PIX
    cols["payee_kind"][:] = F.TO_PERSON
    cols["payee_cust"] = strangers(ctx, cols["cust"])
    cols["amount_cents"] = np.round(
        limit[incident] * ctx.rng.uniform(1.05, 2.5, n)
    ).astype(np.int64)
    cols["device"] = cols["cust"]
    cols["loc"] = current_location(ctx, cols["cust"], cols["t"])
    return cols


def card_testing(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """3-8 online probes of a few reais, many declined, then a big purchase."""
    victims = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    probes = ctx.rng.integers(3, 9, len(victims))
    sizes = probes + 1
    n = int(sizes.sum())
    incident = np.repeat(np.arange(len(victims)), sizes)
    start = local_time(
        ctx, random_days(ctx, len(victims)), ctx.rng.integers(0, 24, len(victims))
    )
    last = np.cumsum(sizes) - 1
    gaps = ctx.rng.integers(30, 241, n)
    gaps[last] = ctx.rng.integers(60, 601, len(victims))
    offset = offsets(sizes, gaps)
    cols = F.empty(n)
    cols["cust"] = victims[incident]
    cols["t"] = start[incident] + offset
    cols["channel"][:] = F.CREDIT
    cols["cnp"][:] = True
    cols["merchant"] = merchants_of(ctx, ONLINE_CATEGORIES, len(victims))[incident]
    cols["amount_cents"] = ctx.rng.integers(50, 500, n)
    cols["amount_cents"][last] = ctx.rng.integers(80_000, 300_000, len(victims))
    cols["declined"] = ctx.rng.random(n) < 0.5
    cols["declined"][last] = False
    device = ctx.devices.add(start - ctx.rng.integers(0, 3600, len(victims)))
    cols["device"] = device[incident]
    cols["loc"] = ctx.rng.choice(
        len(ctx.bairros), len(victims), p=ctx.bairros.home_weights
    )[incident]
    return cols


PLANTERS = {
    "impossible_travel": impossible_travel,
    "velocity_burst": velocity_burst,
    "amount_spike": amount_spike,
    "night_pix_limit": night_pix_limit,
    "card_testing": card_testing,
}
