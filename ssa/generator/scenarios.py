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
from ssa.local_time import SECONDS_PER_DAY


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


def _rows_up_to(ctx: Context, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Position after each customer's last legitimate row at or before t
    (legitimate rows are sorted by customer, then time)."""
    lg = ctx.legit
    span = np.int64(ctx.period_end - ctx.period_start + 400 * SECONDS_PER_DAY)
    key = lg["cust"] * span + (lg["t"] - ctx.period_start)
    return np.searchsorted(key, cust * span + (t - ctx.period_start), side="right")


def current_location(ctx: Context, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Where each customer is at time t, judged from their legitimate rows.

    A payment made from the customer's own phone happens where they are;
    placing it at home instead would teleport them (and trip the travel rule
    on a legitimate row). Between two legitimate rows, take the place of the
    one further away in time: the legitimate trip between them then still
    has at least half its time, so it stays a possible pace.
    """
    lg = ctx.legit
    after = _rows_up_to(ctx, cust, t)
    before = after - 1
    last = len(lg["t"]) - 1
    has_before = (before >= 0) & (lg["cust"][np.clip(before, 0, last)] == cust)
    has_after = (after <= last) & (lg["cust"][np.clip(after, 0, last)] == cust)
    t_before = np.where(
        has_before, lg["t"][np.clip(before, 0, last)], np.iinfo(np.int64).min // 2
    )
    t_after = np.where(
        has_after, lg["t"][np.clip(after, 0, last)], np.iinfo(np.int64).max // 2
    )
    use_after = has_after & (~has_before | (t - t_before > t_after - t))
    home = ctx.customers["home_bairro_idx"].to_numpy()[cust]
    return np.select(
        [use_after, has_before],
        [lg["loc"][np.clip(after, 0, last)], lg["loc"][np.clip(before, 0, last)]],
        home,
    )


def last_row_before(ctx: Context, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of each customer's last legitimate row before t (their first
    row when there is none before)."""
    first = np.searchsorted(ctx.legit["cust"], cust)
    return np.maximum(_rows_up_to(ctx, cust, t) - 1, first)


def recent_mean(ctx: Context, rows: np.ndarray, k: int = 20) -> np.ndarray:
    """Mean amount of each row's customer over their last k legitimate rows."""
    lg = ctx.legit
    cust = lg["cust"]
    first_of_customer = np.searchsorted(cust, cust[rows])
    start = np.maximum(rows - k + 1, first_of_customer)
    total = np.r_[0, np.cumsum(lg["amount_cents"])]
    return (total[rows + 1] - total[start]) / (rows + 1 - start)


def local_time(ctx: Context, day: np.ndarray, hour: np.ndarray) -> np.ndarray:
    seconds = ctx.rng.integers(0, 3600, len(day))
    return ctx.period_start + day * SECONDS_PER_DAY + hour * 3600 + seconds


def random_days(ctx: Context, n: int) -> np.ndarray:
    return ctx.rng.integers(
        0, (ctx.period_end - ctx.period_start) // SECONDS_PER_DAY, n
    )


def offsets(sizes: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Seconds from each incident's first row, given the gap before each row."""
    first = np.cumsum(sizes) - sizes
    gaps = gaps.copy()
    gaps[first[sizes > 0]] = 0
    total = np.cumsum(gaps)
    return total - np.repeat(total[first[sizes > 0]], sizes[sizes > 0])


def incident_times(
    ctx: Context, sizes: np.ndarray, hour: np.ndarray, gap: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of incidents of the given sizes: which incident, and when.

    Each incident starts in the given local hour of a random day; its rows
    follow one another after gaps drawn in ``gap`` (seconds).
    """
    incident = np.repeat(np.arange(len(sizes)), sizes)
    start = local_time(ctx, random_days(ctx, len(sizes)), hour)
    gaps = ctx.rng.integers(gap[0], gap[1], int(sizes.sum()))
    return incident, start[incident] + offsets(sizes, gaps)


def pix_rows(
    ctx: Context, payer: np.ndarray, t: np.ndarray, payee: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Pix to people from the payer's own phone, where the payer is.

    Without a payee, each goes to someone the payer never paid.
    """
    cols = F.empty(len(payer))
    cols["cust"] = payer
    cols["t"] = t
    cols["channel"][:] = F.PIX
    cols["payee_kind"][:] = F.TO_PERSON
    cols["payee_cust"] = strangers(ctx, payer) if payee is None else payee
    cols["device"] = payer
    cols["loc"] = current_location(ctx, payer, t)
    return cols


NIGHT_HOURS = np.array([22, 23, 0, 1, 2, 3, 4])  # night for 20h and 22h starts


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
    k = len(victims)
    sizes = ctx.rng.integers(5, 11, k)
    hour = np.where(
        ctx.rng.random(k) < 0.5,
        ctx.rng.choice([0, 1, 2, 3, 4, 21, 22, 23], k),
        ctx.rng.integers(8, 20, k),
    )
    incident, t = incident_times(ctx, sizes, hour, (20, 111))
    cols = pix_rows(ctx, victims[incident], t)
    cols["amount_cents"] = np.round(
        ctx.rng.lognormal(np.log(350), 0.6, len(t)) * 100
    ).astype(np.int64)
    # The fraudster's phone, wherever they are in the city.
    first = t[np.cumsum(sizes) - sizes]
    cols["device"] = ctx.devices.add(first - ctx.rng.integers(0, 600, k))[incident]
    where = ctx.rng.choice(len(ctx.bairros), k, p=ctx.bairros.home_weights)
    cols["loc"] = where[incident]
    return cols


def amount_spike(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """One online card purchase 10-30x the customer's recent average ticket."""
    lg = ctx.legit
    cust = lg["cust"]
    rank = np.arange(len(cust)) - np.searchsorted(cust, cust)
    eligible_rows = rank >= 10
    victims = pick_victims(ctx, rate, np.unique(cust[eligible_rows]))
    anchor = one_row_each(ctx, eligible_rows, victims)
    usual = recent_mean(ctx, anchor)
    n = len(anchor)
    cols = F.empty(n)
    cols["cust"] = cust[anchor]
    cols["t"] = lg["t"][anchor] + ctx.rng.integers(600, 7200, n)
    cols["channel"][:] = F.CREDIT
    cols["cnp"][:] = True
    cols["merchant"] = merchants_of(ctx, ONLINE_CATEGORIES, n)
    factor = ctx.rng.uniform(10, 30, n)
    cols["amount_cents"] = np.maximum(
        np.round(usual * factor), 120_000 + ctx.rng.integers(0, 50_000, n)
    ).astype(np.int64)
    # Stolen card data, used from the fraudster's own browser or phone.
    cols["device"] = ctx.devices.add(
        cols["t"] - ctx.rng.integers(0, 3 * SECONDS_PER_DAY, n)
    )
    cols["loc"] = lg["loc"][anchor]
    return cols


def night_pix_limit(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """Night Pix to strangers that take the payer past the night limit."""
    victims = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    sizes = ctx.rng.integers(1, 4, len(victims))
    hour = ctx.rng.choice(NIGHT_HOURS, len(victims))
    incident, t = incident_times(ctx, sizes, hour, (120, 1800))
    cols = pix_rows(ctx, victims[incident], t)
    limit = ctx.customers["night_limit_cents"].to_numpy()[cols["cust"]]
    cols["amount_cents"] = np.round(limit * ctx.rng.uniform(1.05, 2.5, len(t))).astype(
        np.int64
    )
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
