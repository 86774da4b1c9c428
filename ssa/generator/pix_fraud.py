"""Planted Pix fraud of the kinds most common in Brazil (fact sheet).

Social engineering and mule accounts, not cloned cards: a stolen phone
sending from a device the bank has never seen (Res. BCB 403/2024), night
transfers kept just under the limit (structuring), mule accounts that
collect from many victims and pass the money on within minutes, and the
"falsa central" victim who sends a first, outsized transfer to a stranger.
"""

from __future__ import annotations

import numpy as np

from ssa.generator import frame as F
from ssa.generator.scenarios import (
    Context,
    incident_times,
    last_row_before,
    local_time,
    offsets,
    pick_victims,
    pix_rows,
    random_days,
    recent_mean,
    strangers,
)
from ssa.local_time import SECONDS_PER_DAY

SCENARIO = "scenario"  # extra key: per-row scenario names when one planter makes two


def new_device(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """A stolen phone: 1-3 Pix over R$ 200 on its first day, hours apart."""
    victims = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    k = len(victims)
    sizes = ctx.rng.integers(1, 4, k)
    incident, t = incident_times(ctx, sizes, ctx.rng.integers(8, 20, k), (1800, 14_400))
    cols = pix_rows(ctx, victims[incident], t)
    cols["amount_cents"] = ctx.rng.integers(25_000, 90_000, len(t))
    first = t[np.cumsum(sizes) - sizes]
    cols["device"] = ctx.devices.add(first - ctx.rng.integers(60, 3600, k))[incident]
    return cols


def structuring(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """3-5 night Pix to strangers adding up to 90-99 % of the night limit."""
    victims = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    k = len(victims)
    sizes = ctx.rng.integers(3, 6, k)
    incident, t = incident_times(
        ctx, sizes, ctx.rng.choice([22, 23, 0, 1, 2], k), (300, 1800)
    )
    limit = ctx.customers["night_limit_cents"].to_numpy()[victims]
    total = limit * ctx.rng.uniform(0.9, 0.99, k)
    share = ctx.rng.uniform(0.8, 1.2, len(t))
    share = share / np.bincount(incident, share)[incident]
    cols = pix_rows(ctx, victims[incident], t)
    cols["amount_cents"] = np.floor(total[incident] * share).astype(np.int64)
    return cols


def mule(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """A mule account: 6-15 victims pay it within an hour, it forwards 80-95 %.

    Inflow rows are the victims' transfers (``mule_fan_in``); the mule's
    forwards to its next hop, 2-10 minutes after the last inflow, are
    ``mule_pass_through``.
    """
    mules = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    k = len(mules)
    payers_n = ctx.rng.integers(6, 16, k)
    n_in = int(payers_n.sum())
    incident = np.repeat(np.arange(k), payers_n)
    start = local_time(ctx, random_days(ctx, k), ctx.rng.integers(9, 22, k))
    t_in = start[incident] + ctx.rng.integers(0, 3000, n_in)
    payer = strangers(ctx, mules[incident])
    inflow = pix_rows(ctx, payer, t_in, payee=mules[incident])
    inflow["amount_cents"] = np.round(
        ctx.rng.lognormal(np.log(450), 0.5, n_in) * 100
    ).astype(np.int64)
    received = np.bincount(incident, inflow["amount_cents"], minlength=k)
    last_in = np.full(k, 0, dtype=np.int64)
    np.maximum.at(last_in, incident, t_in)

    outs_n = ctx.rng.integers(1, 4, k)
    n_out = int(outs_n.sum())
    out_incident = np.repeat(np.arange(k), outs_n)
    t_out = last_in[out_incident] + ctx.rng.integers(120, 600, n_out)
    t_out = t_out + offsets(outs_n, ctx.rng.integers(10, 60, n_out))
    share = ctx.rng.uniform(0.8, 1.2, n_out)
    share = share / np.bincount(out_incident, share)[out_incident]
    forward = received[out_incident] * ctx.rng.uniform(0.8, 0.95, k)[out_incident]
    outflow = pix_rows(ctx, mules[out_incident], t_out)
    outflow["amount_cents"] = np.floor(forward * share).astype(np.int64)
    cols = F.concat([inflow, outflow])
    cols[SCENARIO] = np.array(["mule_fan_in"] * n_in + ["mule_pass_through"] * n_out)
    return cols


def falsa_central(ctx: Context, rate: float) -> dict[str, np.ndarray]:
    """Victims of a fake bank call each send one outsized Pix to a mule.

    A gang's mule collects from about three such victims within a day, which
    is what separates it from a first rent payment to a landlord.
    """
    victims = pick_victims(ctx, rate, np.arange(len(ctx.customers)))
    n = len(victims)
    # Gangs of 2-4 victims; the victims come in shuffled order.
    sizes = ctx.rng.integers(2, 5, n)
    gang = np.repeat(np.arange(n), sizes)[:n]
    gangs = int(gang.max()) + 1 if n else 0
    mules = ctx.rng.integers(0, len(ctx.customers), gangs)
    # The second half of the month: a bank knows years of a victim's
    # history; the simulated month is all this table has.
    n_days = (ctx.period_end - ctx.period_start) // SECONDS_PER_DAY
    day = ctx.rng.integers(n_days // 2, max(n_days, 1), gangs)
    t = local_time(ctx, day[gang], ctx.rng.integers(9, 19, n))
    payee = mules[gang]
    payee = np.where(payee == victims, (payee + 1) % len(ctx.customers), payee)
    cols = pix_rows(ctx, victims, t, payee=payee)
    usual = recent_mean(ctx, last_row_before(ctx, victims, t))
    cols["amount_cents"] = np.maximum(
        np.round(usual * ctx.rng.uniform(12, 40, n)),
        150_000 + ctx.rng.integers(0, 100_000, n),
    ).astype(np.int64)
    return cols


PIX_PLANTERS = {
    "new_device": new_device,
    "structuring": structuring,
    "mule": mule,
    "first_time_payee": falsa_central,
}
