"""The generator must not leak the label through anything but behaviour.

PaySim's lesson (two characters of an account name caught 1,003 of 1,007
frauds): for every column that carries no behaviour, a classifier
that learns the fraud rate per value on half the rows must do no better than
chance on the other half.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssa.generator import generate
from ssa.settings import Settings

RATES = {
    "impossible_travel_rate": 0.05,
    "velocity_burst_rate": 0.05,
    "amount_spike_rate": 0.05,
    "night_pix_limit_rate": 0.05,
    "card_testing_rate": 0.05,
}


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    data = generate(
        Settings(
            generator={"n_customers": 800, "n_merchants": 150, "days": 14, "seed": 3},
            fraud=RATES,
        )
    )
    tx = data.transactions
    fraud = data.labels.loc[data.labels["is_fraud"] == 1, "transaction_id"]
    return tx.assign(is_fraud=tx["transaction_id"].isin(fraud).astype(int))


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties."""
    ranks = pd.Series(score).rank(method="average").to_numpy()
    pos = label == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _holdout_auc(feature: pd.Series, label: pd.Series) -> float:
    train = np.arange(len(feature)) % 2 == 0
    rate = label[train].groupby(feature[train].to_numpy()).mean()
    prior = label[train].mean()
    score = feature[~train].map(rate).astype(float).fillna(prior).to_numpy()
    return _auc(score, label[~train].to_numpy())


NON_BEHAVIOURAL = {
    "transaction id, first character": lambda t: t["transaction_id"].str[0],
    "transaction id, last two characters": lambda t: t["transaction_id"].str[-2:],
    "centavos": lambda t: t["amount_cents"] % 100,
    "round reais": lambda t: (t["amount_cents"] % 10_000 == 0).astype(int),
    "second of the minute": lambda t: t["created_at_epoch"] % 60,
    "payer type": lambda t: t["payer_type"].astype(str),
    "latitude, last digit": lambda t: (t["lat"] * 1e6).round().astype(int) % 10,
}


@pytest.mark.parametrize("name", sorted(NON_BEHAVIOURAL))
def test_no_single_non_behavioural_column_predicts_fraud(labelled, name) -> None:
    assert labelled["is_fraud"].sum() > 200
    feature = NON_BEHAVIOURAL[name](labelled)
    auc = _holdout_auc(feature, labelled["is_fraud"])
    assert 0.4 < auc < 0.6, f"{name} predicts the label: AUC {auc:.3f}"


def test_device_ids_do_not_tell_a_fraudster_phone(labelled) -> None:
    """One row per device: fraud rows cluster on a few devices (a stolen
    phone sends several Pix), so a per-row check would measure that
    clustering, not the id."""
    devices = labelled.groupby("device_id", observed=True)["is_fraud"].max()
    ids = devices.index.astype(str)
    assert set(ids.str.len()) == {20}  # "dev-" or "pos-" and 16 hex digits
    phones = devices[ids.str.startswith("dev-")]
    first_hex = pd.Series(phones.index.astype(str).str[4], index=phones.index)
    assert phones.sum() > 30
    auc = _holdout_auc(first_hex, phones.astype(int))
    assert 0.4 < auc < 0.6, f"device id predicts the label: AUC {auc:.3f}"


def test_the_check_catches_a_real_leak(labelled) -> None:
    """A column derived from the label must fail the same check."""
    leaky = labelled["transaction_id"].str[0].where(labelled["is_fraud"] == 0, "z")
    assert _holdout_auc(leaky, labelled["is_fraud"]) > 0.9
