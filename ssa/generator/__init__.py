"""Synthetic card and Pix transactions for Salvador, with planted fraud.

``generate(settings)`` is a pure function of the settings: same seed and
parameters give byte-identical frames. Labels go to a separate frame (the
ground truth) that detection never reads.

A month of more than ``generator.chunk_customers`` customers is made in
chunks of that many (``generate_chunks``), so its memory follows the chunk,
not the month: ten million rows are generated and loaded in the memory of
about one and a half million. Each chunk is a town of its own, its customers
paying each other and the month's one set of merchants, with its own random
stream; the first chunk is exactly the month it would be alone, so a month
of one chunk (the default) keeps its bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssa.bairros import Bairros, load_bairros
from ssa.generator import frame as F
from ssa.generator.legit import legit_transactions
from ssa.generator.lookalikes import LOOKALIKE_PREFIX, LOOKALIKES, switch_phones
from ssa.generator.people import CATEGORY_NAMES, make_customers, make_merchants
from ssa.generator.pix_fraud import PIX_PLANTERS, SCENARIO
from ssa.generator.scenarios import PLANTERS, Context, DeviceBook
from ssa.local_time import SECONDS_PER_DAY, day_number, midnight
from ssa.settings import GeneratorSettings, Settings

KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class Dataset:
    """Everything one generation produces, as Bronze-shaped frames."""

    customers: pd.DataFrame
    merchants: pd.DataFrame
    transactions: pd.DataFrame
    labels: pd.DataFrame


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _hex_ids(
    rng: np.random.Generator,
    n: int,
    prefix: str = "",
    *,
    ascending: bool = False,
    start: np.uint64 | None = None,
) -> np.ndarray:
    """Unique, random-looking ids: nothing in an id hints at how a row was made.

    The splitmix64 finaliser is a bijection on 64-bit integers, so distinct
    inputs give distinct ids without a uniqueness check over a million rows.

    ``ascending`` hands the same kind of ids out in ascending order, for
    things Bronze stores in that order (transactions by customer and time;
    cards and phones by owner). A key index then grows at its right edge
    instead of at random places, as it does for the time-ordered ids real
    feeds carry (Pix end-to-end ids, UUIDv7): Bronze's primary key is
    cheaper to keep up and the Silver id indexes build from sorted input.
    The rank of an id says no more than the customer and time beside it.

    ``start`` continues an earlier call's range (the chunks of one month),
    so their ids never collide.
    """
    if start is None:
        start = rng.integers(0, 2**63, dtype=np.uint64)
    x = np.arange(n, dtype=np.uint64) + np.uint64(start)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        x = x ^ (x >> np.uint64(31))
    if ascending:
        x.sort()  # fixed-width hex sorts as its number does
    raw = x.astype(">u8").tobytes().hex().encode()
    ids = np.frombuffer(raw, dtype="S16").astype(str)
    return np.char.add(prefix, ids) if prefix else ids


def _coded(codes: np.ndarray, categories: np.ndarray) -> pd.Categorical:
    """A string column from integer codes (-1 = missing) without copying strings."""
    return pd.Categorical.from_codes(codes.astype(np.int64), categories=categories)


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


def _to_bronze(
    rng: np.random.Generator,
    cols: dict[str, np.ndarray],
    customers: pd.DataFrame,
    merchants: pd.DataFrame,
    bairros: Bairros,
    devices: DeviceBook,
    jitter_km: float,
    month: _Month,
) -> pd.DataFrame:
    """The Bronze schema; low-cardinality text columns are categoricals.
    The merchants' terminals and the range of transaction ids come from
    ``month`` after its first chunk, which sets them."""
    n_c, n_m = len(customers), len(merchants)
    customer_ids = customers["customer_id"].to_numpy(str)
    merchant_ids = merchants["merchant_id"].to_numpy(str)
    # Phones and cards in owner order; the devices added by scenarios and
    # look-alikes keep random ids: ordered, they would tell a fraudster's
    # phone (planted first) from a new legitimate one.
    device_ids = np.concatenate(
        [
            _hex_ids(rng, n_c, "dev-", ascending=True),
            month.terminals(lambda: _hex_ids(rng, n_m, "pos-", ascending=True)),
            _hex_ids(rng, devices.size - n_c - n_m, "dev-"),
        ]
    )
    # A customer's credit card next to their debit card (codes cust, n_c + cust).
    paired = _hex_ids(rng, 2 * n_c, "card-", ascending=True)
    cards = np.concatenate([paired[0::2], paired[1::2]])

    channel = cols["channel"]
    cust = cols["cust"]
    is_card = (channel == F.CREDIT) | (channel == F.DEBIT)
    merchant = cols["merchant"]
    to_person = cols["payee_cust"] >= 0
    category = np.where(
        merchant >= 0, merchants["category_idx"].to_numpy()[np.maximum(merchant, 0)], -1
    )
    card = np.where(channel == F.CREDIT, cust, n_c + cust)
    lat, lon = _jitter(rng, cols["loc"], bairros, jitter_km)
    return pd.DataFrame(
        {
            "transaction_id": _hex_ids(
                rng,
                len(channel),
                ascending=True,
                start=month.next_ids(rng, len(channel)),
            ),
            "created_at_epoch": cols["t"],
            "customer_id": _coded(cust, customer_ids),
            "payer_type": _coded(np.zeros(len(channel)), np.array(["PF", "PJ"])),
            "channel": _coded(channel, F.CHANNELS),
            "amount_cents": cols["amount_cents"],
            "payee_id": _coded(
                np.where(to_person, cols["payee_cust"], n_c + merchant),
                np.concatenate([customer_ids, merchant_ids]),
            ),
            "payee_type": _coded(np.where(to_person, 0, 1), np.array(["PF", "PJ"])),
            "is_same_owner": (cols["payee_kind"] == F.TO_SELF).astype(np.int64),
            "merchant_id": _coded(merchant, merchant_ids),
            "category": _coded(category, CATEGORY_NAMES),
            "card_id": _coded(np.where(is_card, card, -1), cards),
            "entry_mode": _coded(
                np.where(is_card, cols["cnp"].astype(np.int64), -1),
                np.array(["present", "not_present"]),
            ),
            "auth_status": _coded(
                cols["declined"].astype(np.int64), np.array(["approved", "declined"])
            ),
            "device_id": _coded(cols["device"], device_ids),
            "device_first_seen_epoch": devices.all_first_seen()[cols["device"]],
            "bairro": _coded(cols["loc"], bairros.names),
            "lat": lat,
            "lon": lon,
        }
    )


def generate(settings: Settings) -> Dataset:
    """Customers, merchants, a month of transactions and the planted labels."""
    chunks = list(generate_chunks(settings))
    if len(chunks) == 1:
        return chunks[0]
    return Dataset(
        **{
            f.name: pd.concat([getattr(c, f.name) for c in chunks], ignore_index=True)
            for f in dataclasses.fields(Dataset)
        }
    )


def chunk_count(settings: Settings) -> int:
    """How many chunks of customers the month is made in."""
    cfg = settings.generator
    return -(-cfg.n_customers // cfg.chunk_customers)


def generate_chunks(settings: Settings) -> Iterator[Dataset]:
    """The month, ``generator.chunk_customers`` customers at a time, in
    customer order; the merchants come with the first chunk only (the later
    ones' frame is empty). Lazy: one chunk is in memory at a time."""
    cfg = settings.generator
    month = _Month()
    for k, first in enumerate(range(0, cfg.n_customers, cfg.chunk_customers)):
        size = min(cfg.chunk_customers, cfg.n_customers - first)
        part = cfg.model_copy(update={"n_customers": size})
        # The first chunk draws from the seed as a month alone would; the
        # others from streams of their own, spawned from the same seed.
        rng = np.random.default_rng(cfg.seed if k == 0 else [cfg.seed, k])
        yield _generate_part(settings, part, rng, first, month)


@dataclass
class _Month:
    """What the chunks of one month share: the merchants, their terminals,
    and where the next chunk's transaction ids start (so none collide)."""

    merchants: pd.DataFrame | None = None
    merchant_first_seen: np.ndarray | None = None
    terminal_ids: np.ndarray | None = None
    ids_from: np.uint64 | None = None

    def terminals(self, make: Callable[[], np.ndarray]) -> np.ndarray:
        if self.terminal_ids is None:
            self.terminal_ids = make()
        return self.terminal_ids

    def next_ids(self, rng: np.random.Generator, n: int) -> np.uint64:
        if self.ids_from is None:
            self.ids_from = rng.integers(0, 2**63, dtype=np.uint64)
        start = self.ids_from
        self.ids_from = np.uint64(start + np.uint64(n))
        return start


def _generate_part(
    settings: Settings,
    cfg: GeneratorSettings,
    rng: np.random.Generator,
    first_customer: int,
    month: _Month,
) -> Dataset:
    offset = settings.rules.utc_offset_seconds
    bairros = load_bairros(settings.paths.resolve(settings.paths.bairros_csv))
    customers = make_customers(rng, bairros, cfg, first_number=first_customer + 1)
    first_chunk = month.merchants is None
    if first_chunk:
        month.merchants = make_merchants(rng, bairros, cfg)
    merchants = month.merchants
    legit = legit_transactions(
        rng, customers, merchants, bairros, cfg, offset, settings.rules.night_end_hour
    )
    start = midnight(day_number(cfg.start_date), offset)
    devices = DeviceBook()
    devices.add(start - rng.integers(30, 1000, len(customers)) * SECONDS_PER_DAY)
    if month.merchant_first_seen is None:
        month.merchant_first_seen = (
            start - rng.integers(100, 3000, len(merchants)) * SECONDS_PER_DAY
        )
    devices.add(month.merchant_first_seen)
    ctx = Context(
        rng=rng,
        customers=customers,
        merchants=merchants,
        bairros=bairros,
        legit=legit,
        devices=devices,
        period_start=start,
        period_end=start + cfg.days * SECONDS_PER_DAY,
        utc_offset_seconds=offset,
    )
    fraud = settings.fraud
    # Labels as small integer codes into `names` (0: not planted), not a
    # million Python strings: the sort and the filter below stay numpy's.
    names = [""]

    def code(name: str) -> int:
        if name not in names:
            names.append(name)
        return names.index(name)

    def codes(name: str, n: int) -> np.ndarray:
        return np.full(n, code(name), dtype=np.int16)

    legit_codes = codes("", len(legit["t"]))
    new_phones = switch_phones(
        ctx, fraud.lookalike_new_phone_rate, settings.rules.new_device_max_tx_cents
    )
    legit_codes[new_phones] = code(LOOKALIKE_PREFIX + "new_phone")
    parts, scenario = [legit], [legit_codes]
    for name, plant in PLANTERS.items():
        rows = plant(ctx, getattr(fraud, f"{name}_rate"))
        parts.append(rows)
        scenario.append(codes(name, len(rows["t"])))
    for name, plant in PIX_PLANTERS.items():
        rows = plant(ctx, getattr(fraud, f"{name}_rate"))
        per_row = rows.pop(SCENARIO, None)
        parts.append(rows)
        if per_row is None:
            scenario.append(codes(name, len(rows["t"])))
        else:
            kinds, which = np.unique(per_row, return_inverse=True)
            lookup = np.array([code(str(k)) for k in kinds], dtype=np.int16)
            scenario.append(lookup[which])
    for name, plant in LOOKALIKES.items():
        rows = plant(ctx, getattr(fraud, f"lookalike_{name}_rate"))
        parts.append(rows)
        scenario.append(codes(LOOKALIKE_PREFIX + name, len(rows["t"])))
    cols = F.concat(parts)
    labels = np.concatenate(scenario)
    # Customer, then time: Bronze is stored in the order the Silver windows
    # read it (partition by customer, order by time), so their sorts get
    # nearly sorted input (bench/benchmark.py: a faster load and Silver).
    order = np.lexsort((cols["t"], cols["cust"]))
    cols, labels = F.take(cols, order), labels[order]
    tx = _to_bronze(
        rng, cols, customers, merchants, bairros, devices, cfg.jitter_max_km, month
    )
    planted = labels != 0
    scenario_names = np.array(names)[labels[planted]]
    truth = pd.DataFrame(
        {
            "transaction_id": tx["transaction_id"].to_numpy()[planted],
            "scenario": scenario_names,
            "is_fraud": (~np.char.startswith(scenario_names, LOOKALIKE_PREFIX)).astype(
                np.int64
            ),
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
    if not first_chunk:
        shops = shops.iloc[:0]
    return Dataset(customers=people, merchants=shops, transactions=tx, labels=truth)
