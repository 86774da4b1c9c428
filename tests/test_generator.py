"""The synthetic month: deterministic, realistic, and labelled apart."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from ssa.bairros import haversine_km, load_bairros
from ssa.documents import cpf_is_valid
from ssa.generator import chunk_count, generate, generate_chunks
from ssa.settings import Settings

SMALL = Settings(generator={"n_customers": 400, "n_merchants": 80, "days": 14})


@pytest.fixture(scope="module")
def dataset():
    return generate(SMALL)


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def test_same_seed_same_bytes(dataset) -> None:
    again = generate(SMALL)
    for name in ("customers", "merchants", "transactions", "labels"):
        assert _digest(getattr(dataset, name)) == _digest(getattr(again, name)), name


def test_another_seed_another_month(dataset) -> None:
    other = generate(
        SMALL.model_copy(
            update={"generator": SMALL.generator.model_copy(update={"seed": 7})}
        )
    )
    assert _digest(other.transactions) != _digest(dataset.transactions)


def test_customers_have_valid_cpfs_and_real_bairros(dataset) -> None:
    bairros = set(load_bairros(SMALL.paths.resolve(SMALL.paths.bairros_csv)).names)
    customers = dataset.customers
    assert customers["cpf"].map(cpf_is_valid).all()
    assert customers["cpf"].is_unique
    assert set(customers["home_bairro"]) <= bairros
    assert customers["credit_score"].between(0, 1000).all()
    assert set(customers["night_start_hour"]) <= {20, 22}


def test_transaction_ids_unique_and_amounts_positive(dataset) -> None:
    tx = dataset.transactions
    assert tx["transaction_id"].is_unique
    assert (tx["amount_cents"] > 0).all()
    assert set(tx["channel"]) == {"pix", "credit", "debit", "boleto"}


def test_keys_ascend_in_the_order_bronze_stores_rows(dataset) -> None:
    """Transactions come in customer, then time order, with ascending ids, and
    each customer's cards follow the previous customer's: Bronze's key
    indexes grow at the edge. Customers' phones are in owner order too."""
    tx = dataset.transactions
    assert tx["transaction_id"].is_monotonic_increasing
    order = tx[["customer_id", "created_at_epoch"]].astype({"customer_id": str})
    assert order.equals(order.sort_values(["customer_id", "created_at_epoch"]))
    cards = (
        tx.dropna(subset=["card_id"])
        .astype({"card_id": str})
        .groupby("customer_id", observed=True)["card_id"]
    )
    first, last = cards.min(), cards.max()
    assert (first.to_numpy()[1:] > last.to_numpy()[:-1]).all()


def test_channel_mix_follows_the_fact_sheet(dataset) -> None:
    share = dataset.transactions["channel"].value_counts(normalize=True)
    assert share["pix"] == pytest.approx(0.561, abs=0.03)
    assert share["credit"] + share["debit"] == pytest.approx(0.402, abs=0.03)


def test_every_scenario_is_planted_and_labelled(dataset) -> None:
    labels = dataset.labels
    assert set(labels.loc[labels["is_fraud"] == 1, "scenario"]) == {
        "impossible_travel",
        "velocity_burst",
        "amount_spike",
        "night_pix_limit",
        "card_testing",
        "new_device",
        "structuring",
        "mule_fan_in",
        "mule_pass_through",
        "first_time_payee",
    }
    assert set(labels["transaction_id"]) <= set(dataset.transactions["transaction_id"])
    assert "scenario" not in dataset.transactions.columns


def test_legit_people_never_move_faster_than_a_city_allows(dataset) -> None:
    tx = dataset.transactions
    legit = tx[~tx["transaction_id"].isin(dataset.labels["transaction_id"])]
    legit = legit.sort_values(["customer_id", "created_at_epoch"], kind="stable")
    same = legit["customer_id"].to_numpy()[1:] == legit["customer_id"].to_numpy()[:-1]
    lat, lon = legit["lat"].to_numpy(), legit["lon"].to_numpy()
    km = haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:])[same]
    seconds = np.diff(legit["created_at_epoch"].to_numpy())[same]
    far = km >= SMALL.rules.hop_min_distance_km
    speed = km[far] * 3600 / np.maximum(seconds[far], 1)
    assert (speed <= SMALL.rules.hop_max_speed_kmh).all()


def test_rates_scale_the_planted_incidents() -> None:
    fraud_rates = {
        name: 0.0
        for name in SMALL.fraud.model_fields
        if name.endswith("_rate") and not name.startswith("lookalike_")
    }
    none = SMALL.model_copy(
        update={"fraud": SMALL.fraud.model_copy(update=fraud_rates)}
    )
    labels = generate(none).labels
    assert (labels["is_fraud"] == 0).all()
    assert len(labels) > 0  # the look-alikes have rates of their own


def test_lookalikes_are_planted_and_labelled_legitimate(dataset) -> None:
    labels = dataset.labels
    lookalikes = labels[labels["scenario"].str.startswith("lookalike_")]
    assert set(lookalikes["scenario"]) == {
        "lookalike_fast_trip",
        "lookalike_big_purchase",
        "lookalike_night_company",
        "lookalike_new_payee_large",
        "lookalike_market_stall",
        "lookalike_new_phone",
    }
    assert (lookalikes["is_fraud"] == 0).all()
    assert (labels.loc[~labels.index.isin(lookalikes.index), "is_fraud"] == 1).all()


def test_fast_trips_are_fast_but_possible(dataset) -> None:
    tx = dataset.transactions.sort_values(["customer_id", "created_at_epoch"])
    trips = set(
        dataset.labels.loc[
            dataset.labels["scenario"] == "lookalike_fast_trip", "transaction_id"
        ]
    )
    prev = tx.groupby("customer_id", observed=True).shift(1)
    is_trip = tx["transaction_id"].isin(trips).to_numpy()
    km = haversine_km(
        prev["lat"].to_numpy()[is_trip],
        prev["lon"].to_numpy()[is_trip],
        tx["lat"].to_numpy()[is_trip],
        tx["lon"].to_numpy()[is_trip],
    )
    hours = (tx["created_at_epoch"] - prev["created_at_epoch"]).to_numpy()[
        is_trip
    ] / 3600
    assert is_trip.sum() > 0
    assert (km >= 5).all()
    assert (km / hours < SMALL.rules.hop_max_speed_kmh).all()
    assert (km / hours > 30).all()


def test_night_lookalikes_pay_companies_or_themselves(dataset) -> None:
    ids = dataset.labels.loc[
        dataset.labels["scenario"] == "lookalike_night_company", "transaction_id"
    ]
    rows = dataset.transactions[dataset.transactions["transaction_id"].isin(ids)]
    assert len(rows) > 0
    company = rows["payee_type"].astype(str) == "PJ"
    own = rows["is_same_owner"] == 1
    assert (company ^ own).all()


CHUNKED = SMALL.model_copy(
    update={"generator": SMALL.generator.model_copy(update={"chunk_customers": 150})}
)


def test_a_month_of_one_chunk_is_the_month_itself(dataset) -> None:
    """The chunk size changes nothing below it: the default month and the
    1M-row benchmark's keep their bytes."""
    assert chunk_count(SMALL) == 1
    (only,) = generate_chunks(SMALL)
    for name in ("customers", "merchants", "transactions", "labels"):
        assert _digest(getattr(only, name)) == _digest(getattr(dataset, name)), name


def test_a_big_month_comes_in_chunks_of_customers() -> None:
    """Each chunk is a town of its own; together they are one month: every
    key unique, the merchants once, Bronze's customer-then-time order, and
    the first chunk exactly the month its customers would make alone."""
    chunks = list(generate_chunks(CHUNKED))
    assert chunk_count(CHUNKED) == len(chunks) == 3
    assert [len(c.customers) for c in chunks] == [150, 150, 100]
    assert [len(c.merchants) for c in chunks] == [80, 0, 0]
    month = generate(CHUNKED)
    tx, customers = month.transactions, month.customers
    assert customers["customer_id"].tolist() == [f"C{i:07d}" for i in range(1, 401)]
    assert customers["cpf"].map(cpf_is_valid).all()
    assert tx["transaction_id"].is_unique
    assert month.labels["transaction_id"].isin(tx["transaction_id"]).all()
    assert set(tx["customer_id"].astype(str)) <= set(customers["customer_id"])
    assert set(tx["merchant_id"].dropna().astype(str)) <= set(
        month.merchants["merchant_id"]
    )
    order = tx[["customer_id", "created_at_epoch"]].astype({"customer_id": str})
    assert order.equals(order.sort_values(["customer_id", "created_at_epoch"]))
    # A merchant's terminal is one device in every chunk.
    terminals = tx.dropna(subset=["merchant_id"]).astype(
        {"merchant_id": str, "device_id": str}
    )
    terminals = terminals[terminals["device_id"].str.startswith("pos-")]
    assert terminals.groupby("merchant_id")["device_id"].nunique().max() == 1
    alone = generate(
        SMALL.model_copy(
            update={
                "generator": SMALL.generator.model_copy(update={"n_customers": 150})
            }
        )
    )
    assert _digest(chunks[0].transactions) == _digest(alone.transactions)
    assert _digest(chunks[0].customers) == _digest(alone.customers)
    # Later chunks draw from their own streams: not a copy of the first.
    assert not np.array_equal(
        chunks[1].transactions["amount_cents"].to_numpy()[:50],
        chunks[0].transactions["amount_cents"].to_numpy()[:50],
    )
    again = generate(CHUNKED)
    assert _digest(again.transactions) == _digest(tx)
