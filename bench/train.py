"""Training benchmark: the risk model on a million labelled transactions.

Builds a synthetic month (~1M rows, planted labels) through Bronze and
Silver in a temporary folder, or reuses a warehouse given with
``--data-dir``, then times what ``python -m flows.train`` does: reading the
features and labels, fitting and calibrating, judging the held-back period
(model, rules-only score, baselines), and saving the file. Prints the
stages side by side with the target and the held-back figures.

    python -m bench.train                   # ~1M rows, built first
    python -m bench.train --customers 3000  # a smaller month
    python -m bench.train --data-dir data   # an existing warehouse as it is

Target (2-core machine): training on 1M rows <= 60 s (read + fit +
evaluate + save). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from ssa import refresh, risk_model, training, warehouse
from ssa.generator import generate
from ssa.settings import Settings
from tasks.bronze import _load
from tasks.silver import sql_params

# ~66 transactions per customer in a 30-day month (bench/benchmark.py).
DEFAULT_CUSTOMERS = 15_150
TARGET_TRAIN_S = 60.0


def build(settings: Settings) -> float:
    """Bronze and Silver for the synthetic month; seconds taken."""
    start = time.perf_counter()
    _load(generate(settings), settings)
    refresh.rebuild_all_parallel(settings.paths.warehouse_path, sql_params(settings))
    with warehouse.connect(settings.paths.warehouse_path) as conn:
        refresh.rebuild_gold(conn, sql_params(settings))
    return time.perf_counter() - start


def run(settings: Settings) -> tuple[list[list], dict]:
    """Each stage of training, timed; the saved model's contents."""
    stages: list[list] = []

    def timed(name: str, rows: int, fn):
        start = time.perf_counter()
        result = fn()
        stages.append([name, rows, time.perf_counter() - start])
        return result

    def read():
        with warehouse.connect(settings.warehouse_path) as conn:
            rows = risk_model.read_rows(conn, warehouse, settings)
            if not warehouse.table_exists(conn, "gold_transaction_risk"):
                return rows, None
            return rows, warehouse.query(conn, training.RULES_ONLY_SQL, {})

    rows, rules_only = timed("read features and labels", 0, read)
    stages[-1][1] = len(rows)
    labelled = rows[rows["is_fraud"].notna()]
    split = risk_model.time_split(labelled, settings)
    model = timed(
        "fit and calibrate",
        len(labelled),
        lambda: risk_model.fit(labelled, split, settings),
    )
    model["metrics"] = timed(
        "evaluate (model, rules, baselines)",
        len(labelled),
        lambda: training.evaluate(model, rows, split, settings, rules_only),
    )
    timed("save", 1, lambda: risk_model.save(model, settings.paths.models_path))
    return stages, model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--data-dir", help="an existing warehouse to train on")
    args = parser.parse_args(argv)
    print(
        f"{os.cpu_count()} cores, load average before: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="ssa-bench-train-") as tmp:
        data_dir = Path(args.data_dir) if args.data_dir else Path(tmp) / "data"
        settings = Settings(
            paths={"data_dir": data_dir},
            generator={"n_customers": args.customers, "days": args.days},
        )
        if not args.data_dir:
            print(f"built Bronze, Silver and Gold in {build(settings):.1f} s")
        stages, model = run(settings)
    total = sum(s[2] for s in stages)
    table = [[name, f"{rows:,}", f"{s:.2f}"] for name, rows, s in stages]
    table.append(["training, in all", "", f"{total:.2f}"])
    print(
        tabulate(
            table,
            headers=["stage", "rows", "wall s"],
            colalign=("left", "right", "right"),
        )
    )
    print()
    print(training.metrics_table(model).to_markdown(floatfmt=".3f"))
    print()
    verdict = "ok" if total <= TARGET_TRAIN_S else "MISSED"
    print(
        tabulate(
            [["training 1M rows <= 60 s", f"{total:.2f} s", verdict]],
            headers=["target", "measured", ""],
        )
    )
    print(
        f"rounds {model['best_iteration']}; load average after: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
