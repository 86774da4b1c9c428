"""Synthetic card and Pix transactions for Salvador, with planted fraud.

``generate(settings)`` is a pure function of the settings: same seed and
parameters give byte-identical frames. Labels go to a separate frame (the
ground truth) that detection never reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssa.bairros import Bairros, load_bairros
from ssa.generator import frame as F
from ssa.generator.legit import legit_transactions, local_midnight_epoch
from ssa.generator.people import CATEGORY_NAMES, make_customers, make_merchants
from ssa.generator.scenarios import PLANTERS, Context, DeviceBook
from ssa.settings import Settings

KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class Dataset:
    """Everything one generation produces, as Bronze-shaped frames."""

    customers: pd.DataFrame
    merchants: pd.DataFrame
    transactions: pd.DataFrame
    labels: pd.DataFrame


def _hex_ids(rng: np.random.Generator, n: int, prefix: str = "") -> np.ndarray:
    """Unique random ids: nothing in an id can hint at how a row was made."""
    while True:
        raw = rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint8).tobytes()
        ids = np.frombuffer(raw.hex().encode(), dtype="S16").astype(str)
        if len(np.unique(ids)) == n:
            return np.char.add(prefix, ids) if prefix else ids


def _jitter(
    rng: np.random.Generator, loc: np.ndarray, bairros: Bairros, max_km: float
) -> tuple[np.ndarray, np.ndarray]:
    """A point near the centroid, never farther than half the bairro radius."""
    radius = np.minimum(max_km, 0.5 * np.sqrt(bairros.area_km2 / np.pi))[loc]
    r = radius * np.sqrt(rng.random(len(loc)))
    theta = rng.random(len(loc)) * 2 * np.pi
    lat = bairros.lat[loc] + r * np.cos(theta) / KM_PER_DEGREE
    lon = bairros.lon[loc] + r * np.sin(theta) / (
        KM_PER_DEGREE * np.cos(np.radians(bairros.lat[loc]))
    )
    return np.round(lat, 6), np.round(lon, 6)


def _nullable(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    out = values.astype(object)
    out[~present] = None
    return out


def _to_bronze(
    rng: np.random.Generator,
    cols: dict[str, np.ndarray],
    customers: pd.DataFrame,
    merchants: pd.DataFrame,
    bairros: Bairros,
    devices: DeviceBook,
    jitter_km: float,
) -> pd.DataFrame:
    n_c = len(customers)
    customer_ids = customers["customer_id"].to_numpy()
    merchant_ids = merchants["merchant_id"].to_numpy()
    phone_ids = _hex_ids(rng, n_c, "dev-")
    terminal_ids = _hex_ids(rng, len(merchants), "pos-")
    extra_ids = _hex_ids(rng, devices.size - n_c - len(merchants), "dev-")
    device_ids = np.concatenate([phone_ids, terminal_ids, extra_ids])
    credit_cards = _hex_ids(rng, n_c, "card-")
    debit_cards = _hex_ids(rng, n_c, "card-")

    channel = cols["channel"]
    is_card = (channel == F.CREDIT) | (channel == F.DEBIT)
    has_merchant = cols["merchant"] >= 0
    to_person = cols["payee_cust"] >= 0
    merchant = np.maximum(cols["merchant"], 0)
    payee = np.where(
        to_person,
        customer_ids[np.maximum(cols["payee_cust"], 0)],
        merchant_ids[merchant],
    )
    card = np.where(
        channel == F.CREDIT, credit_cards[cols["cust"]], debit_cards[cols["cust"]]
    )
    lat, lon = _jitter(rng, cols["loc"], bairros, jitter_km)
    return pd.DataFrame(
        {
            "transaction_id": _hex_ids(rng, len(channel)),
            "created_at_epoch": cols["t"],
            "customer_id": customer_ids[cols["cust"]],
            "payer_type": "PF",
            "channel": F.CHANNELS[channel],
            "amount_cents": cols["amount_cents"],
            "payee_id": payee,
            "payee_type": np.where(to_person, "PF", "PJ"),
            "is_same_owner": (cols["payee_kind"] == F.TO_SELF).astype(np.int64),
            "merchant_id": _nullable(merchant_ids[merchant], has_merchant),
            "category": _nullable(
                CATEGORY_NAMES[merchants["category_idx"].to_numpy()[merchant]],
                has_merchant,
            ),
            "card_id": _nullable(card, is_card),
            "entry_mode": _nullable(
                np.where(cols["cnp"], "not_present", "present"), is_card
            ),
            "auth_status": np.where(cols["declined"], "declined", "approved"),
            "device_id": device_ids[cols["device"]],
            "device_first_seen_epoch": devices.all_first_seen()[cols["device"]],
            "bairro": bairros.names[cols["loc"]],
            "lat": lat,
            "lon": lon,
        }
    )


def generate(settings: Settings) -> Dataset:
    """Customers, merchants, a month of transactions and the planted labels."""
    cfg = settings.generator
    offset = settings.rules.utc_offset_seconds
    rng = np.random.default_rng(cfg.seed)
    bairros = load_bairros(settings.paths.resolve(settings.paths.bairros_csv))
    customers = make_customers(rng, bairros, cfg)
    merchants = make_merchants(rng, bairros, cfg)
    legit = legit_transactions(
        rng, customers, merchants, bairros, cfg, offset, settings.rules.night_end_hour
    )
    start = local_midnight_epoch(cfg, offset)
    devices = DeviceBook()
    devices.add(start - rng.integers(30, 1000, len(customers)) * 86_400)
    devices.add(start - rng.integers(100, 3000, len(merchants)) * 86_400)
    ctx = Context(
        rng=rng,
        customers=customers,
        merchants=merchants,
        bairros=bairros,
        legit=legit,
        devices=devices,
        period_start=start,
        period_end=start + cfg.days * 86_400,
        utc_offset_seconds=offset,
    )
    parts, scenario = [legit], [np.full(len(legit["t"]), "", dtype=object)]
    for name, plant in PLANTERS.items():
        rows = plant(ctx, getattr(settings.fraud, f"{name}_rate"))
        parts.append(rows)
        scenario.append(np.full(len(rows["t"]), name, dtype=object))
    cols = F.concat(parts)
    labels = np.concatenate(scenario)
    order = np.lexsort((cols["cust"], cols["t"]))
    cols, labels = F.take(cols, order), labels[order]
    tx = _to_bronze(
        rng, cols, customers, merchants, bairros, devices, cfg.jitter_max_km
    )
    planted = labels != ""
    truth = pd.DataFrame(
        {
            "transaction_id": tx["transaction_id"].to_numpy()[planted],
            "scenario": labels[planted].astype(str),
            "is_fraud": 1,
        }
    )
    people = customers[
        [
            "customer_id",
            "name",
            "cpf",
            "home_bairro",
            "work_bairro",
            "monthly_income",
            "credit_score",
            "night_start_hour",
            "night_limit_cents",
        ]
    ]
    shops = merchants[["merchant_id", "name", "cnpj", "category", "mcc", "bairro"]]
    return Dataset(customers=people, merchants=shops, transactions=tx, labels=truth)
