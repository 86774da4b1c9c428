"""The alert queue's order as one score: the figures rank what it ranks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssa import ranking
from ssa.ranking import RISK_ORDER, risk_rank


def _frame(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    model = rng.choice([0.02, 0.4, 0.4000001, 0.9], rows)
    frame = pd.DataFrame(
        {
            "risk_score": rng.integers(0, 4, rows),
            "risk_probability": np.maximum(model, rng.choice([0.0, 0.4], rows)),
            "model_probability": model,
            "anomaly_points": rng.integers(0, 3, rows),
            "rules_score": rng.integers(0, 3, rows),
        }
    )
    frame.loc[rng.random(rows) < 0.2, "model_probability"] = np.nan
    return frame


def _expected_order(frame: pd.DataFrame) -> list[tuple]:
    """Rows by RISK_ORDER, highest first, a missing value below any."""
    keys = frame[list(RISK_ORDER)].fillna(-np.inf)
    return sorted(map(tuple, keys.to_numpy()), reverse=True)


@pytest.mark.parametrize("exact", [ranking.EXACT_IN_FLOAT, 50])
def test_the_rank_orders_rows_by_each_figure_in_turn(monkeypatch, exact) -> None:
    # A small limit makes the codes re-number themselves on the way, as
    # millions of distinct probabilities would.
    monkeypatch.setattr(ranking, "EXACT_IN_FLOAT", exact)
    frame = _frame(2_000)
    rank = risk_rank(frame)
    alerting = frame["risk_score"] > 0
    assert (rank[~alerting] == 0).all()
    assert (rank[alerting] > 0).all()
    keys = frame[list(RISK_ORDER)].fillna(-np.inf).to_numpy()
    rows = list(map(tuple, keys[alerting]))
    order = np.argsort(-rank[alerting], kind="stable")
    assert [rows[i] for i in order] == _expected_order(frame[alerting])
    # Equal figures, equal rank; any difference, a different one.
    by_key: dict[tuple, set[float]] = {}
    for key, value in zip(rows, rank[alerting], strict=True):
        by_key.setdefault(key, set()).add(value)
    assert all(len(values) == 1 for values in by_key.values())
    assert len({v for values in by_key.values() for v in values}) == len(by_key)


def test_without_a_model_the_points_and_voices_alone_rank() -> None:
    frame = pd.DataFrame(
        {
            "risk_score": [70, 70, 70, 45, 0],
            "anomaly_points": [10, 30, 30, 45, 0],
            "rules_score": [70, 70, 0, 0, 0],
        }
    )
    rank = risk_rank(frame)
    assert rank[1] > rank[0] > rank[2] > rank[3] > rank[4] == 0
