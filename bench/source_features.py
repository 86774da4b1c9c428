"""What a mapping's ``features:`` section gives the risk model, measured.

Writes a synthetic file in the layout of a public data set and ingests,
refines and trains on it twice in temporary folders: once through a
mapping that declares the source's own columns as features, once through
the same mapping without them. Prints the held-back PR-AUC of each beside
the prevalence.

- ``ulb``: the ULB credit-card layout (``Time``, ``Amount``, ``Class`` and a
  PCA vector ``V1``..``V28``, no customer and no place), fraud from a few
  of the V columns only, as in the public set.
- ``paysim``: the PaySim mobile-money layout (``step`` in hours, ``type``,
  the payer's and payee's balances before and after, ``isFraud``), fraud a
  TRANSFER or CASH_OUT that empties the account, as in the public set.

    python -m bench.source_features                  # ULB-like, 60,000 rows
    python -m bench.source_features --layout paysim

Nothing here is a test; the behaviour is tested in
tests/test_source_features.py.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ssa.engines import incremental, open_warehouse
from ssa.intake.ingest import ingest_file
from ssa.models import SILVER
from ssa.risk import risk_model, training
from ssa.settings import Settings
from tasks.silver import sql_params

V = [f"V{i}" for i in range(1, 29)]
MAPPING = """\
description: ULB-like card export (Time, Amount, Class, V1..V28)
columns:
  transaction_id: id
constants:
  channel: credit
places: none
ids:
  customer_id:                  # no cardholder in the file: one per row
    from: [id]
    hash: false
time:
  epoch_column: Time
  epoch_offset_seconds: {start}
amount:
  column: Amount
label:
  column: Class
"""
FEATURES = "features:\n  numeric: [" + ", ".join(V) + "]\n"
PAYSIM = """\
description: PaySim-like mobile-money export (step, type, balances, isFraud)
columns:
  transaction_id: id
constants:
  channel: debit
places: none
ids:
  customer_id:
    from: [nameOrig]
    hash: false
  payee_id:
    from: [nameDest]
    hash: false
time:
  epoch_column: seconds
  epoch_offset_seconds: {start}
amount:
  column: amount
label:
  column: isFraud
"""
PAYSIM_FEATURES = """\
features:
  numeric: [oldbalanceOrg, newbalanceOrig, oldbalanceDest, newbalanceDest]
  categorical: [type]
"""
TYPES = ("PAYMENT", "TRANSFER", "CASH_OUT", "DEBIT", "CASH_IN")


def ulb_like(rows: int, days: int, seed: int) -> pd.DataFrame:
    """Seconds from the start, amounts, V1..V28 standard normal; fraud (about
    0.5 %) from V14, V12, V10 and V17 through a logistic link."""
    rng = np.random.default_rng(seed)
    v = rng.normal(0.0, 1.0, (rows, len(V)))
    logit = -7.6 - 1.6 * v[:, 13] - 1.1 * v[:, 11] - 0.8 * v[:, 9] - 1.2 * v[:, 16]
    fraud = rng.random(rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(v.round(6), columns=V)
    frame.insert(0, "Time", np.sort(rng.integers(0, days * 86_400, rows)))
    frame.insert(0, "id", [f"ulb-{i:07d}" for i in range(rows)])
    frame["Amount"] = rng.lognormal(3.5, 1.2, rows).round(2) + 0.01
    frame["Class"] = fraud.astype(int)
    return frame


def paysim_like(rows: int, days: int, seed: int) -> pd.DataFrame:
    """Payments of 8,000 accounts by the hour; fraud (about 0.4 %) empties
    the payer's account by TRANSFER or CASH_OUT, which a legitimate payment
    here never does (the balances say it all, by construction); the amount
    alone says little, balances being spread wide."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(TYPES, rows, p=[0.34, 0.08, 0.35, 0.01, 0.22])
    old = rng.lognormal(8.0, 1.8, rows).round(2)
    # A legitimate payment leaves something in the account; fraud takes all.
    amount = np.minimum(rng.lognormal(6.0, 1.6, rows), 0.95 * old).round(2) + 0.01
    emptying = np.isin(kind, ("TRANSFER", "CASH_OUT"))
    fraud = emptying & (rng.random(rows) < 0.009)
    amount[fraud] = old[fraud]
    new = np.where(kind == "CASH_IN", old + amount, np.maximum(old - amount, 0))
    dest_old = rng.lognormal(9.0, 2.0, rows).round(2)
    step = np.sort(rng.integers(0, days * 24, rows))
    return pd.DataFrame(
        {
            "id": [f"ps-{i:07d}" for i in range(rows)],
            "seconds": step * 3_600 + rng.integers(0, 3_600, rows),
            "type": kind,
            "amount": amount.round(2),
            "nameOrig": [f"C{c:07d}" for c in rng.integers(0, 8_000, rows)],
            "oldbalanceOrg": old,
            "newbalanceOrig": new.round(2),
            "nameDest": [f"M{c:07d}" for c in rng.integers(0, 20_000, rows)],
            "oldbalanceDest": dest_old,
            "newbalanceDest": (dest_old + amount).round(2),
            "isFraud": fraud.astype(int),
        }
    )


def measure(frame: pd.DataFrame, mapping: str, folder: Path) -> dict:
    sources = folder / "sources"
    sources.mkdir(parents=True)
    (sources / "bench.yaml").write_text(mapping, encoding="utf-8")
    settings = Settings(
        paths={"data_dir": folder / "data", "sources_dir": sources},
        model={"delay_days": 2},
    )
    path = folder / "drop.csv"
    frame.to_csv(path, index=False)
    started = time.perf_counter()
    result = ingest_file(path, settings, source="bench")
    with open_warehouse(settings).transaction() as session:
        incremental.rebuild(session, SILVER, sql_params(settings))
        rows = risk_model.read_rows(session, settings)
    model = training.fit_and_evaluate(rows, settings)
    figures = model["metrics"]["model"]
    return {
        "loaded": result.rows_loaded,
        "source_features": len(model["source_features"]),
        "pr_auc": figures["average_precision"],
        "prevalence": figures["prevalence"],
        "fraud_rows": int(figures["fraud_rows"]),
        "rows": int(figures["rows"]),
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--layout", choices=("ulb", "paysim"), default="ulb")
    args = parser.parse_args()
    start = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp())
    if args.layout == "ulb":
        frame = ulb_like(args.rows, args.days, args.seed)
        base, features, label = MAPPING.format(start=start), FEATURES, "Class"
    else:
        frame = paysim_like(args.rows, args.days, args.seed)
        base, features = PAYSIM.format(start=start), PAYSIM_FEATURES
        label = "isFraud"
    print(f"{args.layout}: {len(frame):,} rows, {int(frame[label].sum()):,} fraud")
    for name, mapping in (("with features:", base + features), ("without", base)):
        with tempfile.TemporaryDirectory() as folder:
            got = measure(frame, mapping, Path(folder))
        print(
            f"{name:15} held back PR-AUC {got['pr_auc']:.3f} (prevalence "
            f"{got['prevalence']:.4f}, {got['fraud_rows']} fraud of "
            f"{got['rows']:,} rows; {got['source_features']} source features; "
            f"{got['seconds']:.0f} s)"
        )


if __name__ == "__main__":
    main()
