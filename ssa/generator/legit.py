"""Ordinary days: when, where, how and how much people in Salvador pay.

Everything is drawn per column with numpy (no per-row Python), then two passes
make the month physically and legally possible: nobody moves faster than
``legit_max_speed_kmh`` between payments, and a night Pix the bank would have
refused (over the payer's night limit) never reaches the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssa.bairros import Bairros
from ssa.generator import frame as F
from ssa.generator.people import CATEGORIES
from ssa.local_time import SECONDS_PER_DAY, day_number, local_day, local_hour, midnight
from ssa.settings import GeneratorSettings

# Share of payments by local hour. No official curve exists; this follows the
# proxies in the fact sheet: 38 % of weekday Pix after 17h (Nubank, 2021) and
# Salvador's transit peaks at 6-7h and 17-18h.
HOURLY = np.array(
    [
        0.6,
        0.3,
        0.2,
        0.15,
        0.2,
        0.5,
        1.5,
        3.0,
        4.0,
        5.0,
        5.5,
        6.0,
        7.0,
        6.5,
        5.5,
        5.0,
        5.0,
        6.5,
        7.0,
        6.5,
        5.5,
        4.0,
        2.8,
        1.5,
    ]
)
HOURLY = HOURLY / HOURLY.sum()
# Pix tickets: PF to PF averaged R$ 257 (Dec 2022) while 93 % of Pix paid by
# individuals are under R$ 200 (BCB): a median of R$ 45 with a heavy tail.
PIX_PERSON_MEDIAN, PIX_PERSON_SIGMA = 45.0, 1.1
PIX_SELF_MEDIAN, PIX_SELF_SIGMA = 250.0, 0.9
BOLETO_MEDIAN, BOLETO_SIGMA = 180.0, 0.6
CONTACTS_PER_CUSTOMER = 8


def contacts(rng: np.random.Generator, n_customers: int) -> np.ndarray:
    """Each person's usual Pix payees: friends, family, the diarista."""
    if n_customers == 1:
        return np.zeros((1, CONTACTS_PER_CUSTOMER), dtype=np.int64)
    pick = rng.integers(0, n_customers - 1, size=(n_customers, CONTACTS_PER_CUSTOMER))
    own = np.arange(n_customers)[:, None]
    return pick + (pick >= own)  # skip oneself


def _merchant_lookup(
    merchants: pd.DataFrame, n_bairros: int, neighbours: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened lists of merchants in or next to each bairro."""
    by_bairro = merchants.groupby("bairro_idx").indices
    flat: list[np.ndarray] = []
    starts = np.zeros(n_bairros, dtype=np.int64)
    counts = np.zeros(n_bairros, dtype=np.int64)
    pos = 0
    everyone = np.arange(len(merchants))
    for b in range(n_bairros):
        near = [
            by_bairro.get(x, np.array([], dtype=np.int64)) for x in (b, *neighbours[b])
        ]
        ids = np.concatenate(near) if near else everyone
        if len(ids) == 0:
            ids = everyone
        flat.append(ids)
        starts[b], counts[b] = pos, len(ids)
        pos += len(ids)
    return np.concatenate(flat), starts, counts


def pick_merchant_near(
    rng: np.random.Generator,
    loc: np.ndarray,
    merchants: pd.DataFrame,
    bairros: Bairros,
    neighbours: np.ndarray,
) -> np.ndarray:
    """A merchant in the payer's bairro or next to it, for each row."""
    flat, starts, counts = _merchant_lookup(merchants, len(bairros), neighbours)
    return flat[starts[loc] + (rng.random(len(loc)) * counts[loc]).astype(np.int64)]


def lognormal_cents(
    rng: np.random.Generator, median_reais: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """Amounts in centavos, at least R$ 1,00."""
    reais = median_reais * np.exp(sigma * rng.standard_normal(len(median_reais)))
    return np.maximum(np.round(reais * 100), 100).astype(np.int64)


def _locations(
    rng: np.random.Generator,
    home: np.ndarray,
    work: np.ndarray,
    hour: np.ndarray,
    weekend: np.ndarray,
    neighbours: np.ndarray,
) -> np.ndarray:
    """Where each payment happens: work hours at work, evenings near home."""
    n = len(home)
    near_home = neighbours[home, rng.integers(0, neighbours.shape[1], n)]
    near_work = neighbours[work, rng.integers(0, neighbours.shape[1], n)]
    u = rng.random(n)
    office = (~weekend) & (hour >= 8) & (hour < 18)
    at_office = np.select(
        [u < 0.55, u < 0.75, u < 0.90], [work, near_work, home], near_home
    )
    off_hours = np.select([u < 0.60, u < 0.92], [home, near_home], work)
    return np.where(office, at_office, off_hours)


def enforce_travel_pace(
    cust: np.ndarray,
    t: np.ndarray,
    loc: np.ndarray,
    distance_km: np.ndarray,
    max_speed_kmh: float,
) -> np.ndarray:
    """Keep a person where they were when the next place is too far to reach.

    Rows are sorted by (customer, time). A move that would need more than the
    ordinary pace is replaced by staying put; repeating converges because
    staying never creates a faster move.
    """
    loc = loc.copy()
    same = np.r_[False, cust[1:] == cust[:-1]]
    reach_km = np.r_[0.0, np.diff(t) / 3600.0 * max_speed_kmh]
    for _ in range(50):
        prev = np.r_[loc[0], loc[:-1]]
        too_fast = same & (distance_km[prev, loc] > reach_km)
        if not too_fast.any():
            break
        loc[too_fast] = prev[too_fast]
    return loc


def drop_refused_night_pix(
    cols: dict[str, np.ndarray],
    customers: pd.DataFrame,
    utc_offset_seconds: int,
    night_end_hour: int,
) -> dict[str, np.ndarray]:
    """Remove night PF->PF Pix that would have broken the payer's limit.

    Res. BCB 142/2021 makes the bank refuse them, so a legitimate table never
    holds them; keeping them would plant false 'fraud' in the ground truth.
    """
    hour = local_hour(cols["t"], utc_offset_seconds)
    start = customers["night_start_hour"].to_numpy()[cols["cust"]]
    counted = (
        (cols["channel"] == F.PIX)
        & (cols["payee_kind"] == F.TO_PERSON)
        & ((hour >= start) | (hour < night_end_hour))
    )
    night = local_day(cols["t"] - night_end_hour * 3600, utc_offset_seconds)
    running = (
        pd.Series(np.where(counted, cols["amount_cents"], 0))
        .groupby([cols["cust"], night], sort=False)
        .cumsum()
        .to_numpy()
    )
    limit = customers["night_limit_cents"].to_numpy()[cols["cust"]]
    keep = ~(counted & (running > limit))
    return F.take(cols, np.flatnonzero(keep))


def legit_transactions(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    merchants: pd.DataFrame,
    bairros: Bairros,
    cfg: GeneratorSettings,
    utc_offset_seconds: int,
    night_end_hour: int,
) -> dict[str, np.ndarray]:
    """A month of everyday payments, sorted by customer and time."""
    n_c = len(customers)
    neighbours = bairros.nearest(6)
    rate = cfg.tx_per_customer_day * customers["activity"].to_numpy()
    counts = rng.poisson(rate * cfg.days)
    cust = np.repeat(np.arange(n_c), counts)
    n = len(cust)
    day = rng.integers(0, cfg.days, n)
    hour = rng.choice(24, size=n, p=HOURLY)
    local = day * SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, n)
    t = midnight(day_number(cfg.start_date), utc_offset_seconds) + local
    order = np.lexsort((t, cust))
    cust, t, day, hour = cust[order], t[order], day[order], hour[order]
    weekday = (cfg.start_date.weekday() + day) % 7
    home = customers["home_bairro_idx"].to_numpy()[cust]
    work = customers["work_bairro_idx"].to_numpy()[cust]
    loc = _locations(rng, home, work, hour, weekday >= 5, neighbours)
    loc = enforce_travel_pace(
        cust, t, loc, bairros.distance_km, cfg.legit_max_speed_kmh
    )

    cols = F.empty(n)
    cols["cust"], cols["t"], cols["loc"] = cust, t, loc
    shares = [cfg.pix_share, cfg.credit_share, cfg.debit_share, cfg.boleto_share]
    channel = rng.choice(4, size=n, p=shares).astype(np.int8)
    cols["channel"] = channel
    pix = channel == F.PIX
    card = (channel == F.CREDIT) | (channel == F.DEBIT)
    u = rng.random(n)
    kind = np.select(
        [
            u < cfg.pix_pf_to_pf_share,
            u < cfg.pix_pf_to_pf_share + cfg.pix_pf_to_pj_share,
        ],
        [F.TO_PERSON, F.TO_COMPANY],
        F.TO_SELF,
    ).astype(np.int8)
    cols["payee_kind"] = np.where(pix, kind, F.NO_ID).astype(np.int8)

    book = contacts(rng, n_c)
    friend = book[cust, rng.integers(0, CONTACTS_PER_CUSTOMER, n)]
    cols["payee_cust"] = np.where(
        pix & (kind == F.TO_PERSON),
        friend,
        np.where(pix & (kind == F.TO_SELF), cust, F.NO_ID),
    )
    needs_merchant = card | (channel == F.BOLETO) | (pix & (kind == F.TO_COMPANY))
    merchant = pick_merchant_near(rng, loc, merchants, bairros, neighbours)
    cols["merchant"] = np.where(needs_merchant, merchant, F.NO_ID)

    category = merchants["category_idx"].to_numpy()[merchant]
    online = np.array([c.online for c in CATEGORIES])[category]
    # Only online-capable categories sell card-not-present; scale the draw so
    # the share over all card payments matches the setting.
    online_share = max(float(online[card].mean()) if card.any() else 1.0, 1e-9)
    p_online = min(1.0, cfg.card_not_present_share / online_share)
    cols["cnp"] = card & online & (rng.random(n) < p_online)

    median = np.array([c.median_reais for c in CATEGORIES])[category]
    sigma = np.array([c.sigma for c in CATEGORIES])[category]
    median = np.where(channel == F.DEBIT, median * 0.6, median)
    median = np.select(
        [pix & (kind == F.TO_PERSON), pix & (kind == F.TO_SELF), channel == F.BOLETO],
        [PIX_PERSON_MEDIAN, PIX_SELF_MEDIAN, BOLETO_MEDIAN],
        median,
    )
    sigma = np.select(
        [pix & (kind == F.TO_PERSON), pix & (kind == F.TO_SELF), channel == F.BOLETO],
        [PIX_PERSON_SIGMA, PIX_SELF_SIGMA, BOLETO_SIGMA],
        sigma,
    )
    scale = customers["spend_scale"].to_numpy()[cust]
    cols["amount_cents"] = lognormal_cents(rng, median * scale, sigma)
    # Card-present payments come from the merchant's terminal; everything
    # else from the customer's phone (device index = customer index).
    cols["device"] = np.where(card & ~cols["cnp"], n_c + merchant, cust)
    # Issuers decline a few honest card payments (balance, typo in the CVV).
    cols["declined"] = card & (rng.random(n) < 0.02)
    return drop_refused_night_pix(cols, customers, utc_offset_seconds, night_end_hour)
