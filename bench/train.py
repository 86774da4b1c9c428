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
    python -m bench.train --external        # the labelled Sparkov year
    python -m bench.train --engine duckdb   # the same month on DuckDB

``--external`` ingests ``../shared/data/external/card_transactions_2021.csv.gz``
through ``sources/sparkov.yaml`` (reported labels from its is_fraud column),
builds Silver and Gold, and trains on January-September, judging October-
December, as the development set's README does.

Then it times a full Gold build without a model, scoring every row with
the model just saved alone, and scoring and Gold as the flow runs them:
what the model adds is the last less the first.

Targets (2-core machine): training on 1M rows <= 60 s (read + fit +
evaluate + save); scoring adds <= 15 % to a 1M-row Gold build. Timings on
a shared machine are noisy: the load average is printed with them.
Nothing here is a test.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from bench import EXTERNAL_FILE
from ssa.engines import WarehouseError, open_warehouse
from ssa.generator import generate
from ssa.intake.ingest import ingest_file
from ssa.risk import model_scoring, risk_model, training
from ssa.risk.risk_model import ModelError
from ssa.settings import Settings, sql_params
from tasks.bronze import _load

# ~66 transactions per customer in a 30-day month (bench/benchmark.py).
DEFAULT_CUSTOMERS = 15_150
TARGET_TRAIN_S = 60.0
TARGET_SCORING_SHARE = 0.15
NO_MODEL = "gold, no model"
WITH_MODEL = "scoring and gold, as the flow runs them"
EXTERNAL_EVALUATION_START = "2021-10-01"


def build(settings: Settings) -> float:
    """Bronze and Silver for the synthetic month; seconds taken."""
    start = time.perf_counter()
    _load(generate(settings), settings)
    warehouse = open_warehouse(settings)
    warehouse.build_silver(sql_params(settings))
    warehouse.build_gold(sql_params(settings))
    return time.perf_counter() - start


def build_external(settings: Settings, tmp: Path) -> float:
    """Bronze (and reported labels) from the development set, then Silver and
    Gold; seconds taken."""
    start = time.perf_counter()
    plain = tmp / "card_transactions_2021.csv"
    plain.write_bytes(gzip.decompress(EXTERNAL_FILE.read_bytes()))
    result = ingest_file(plain, settings, source="sparkov", keep_original=True)
    print(f"ingested {result.rows_read:,} rows, {result.rows_rejected:,} rejected")
    warehouse = open_warehouse(settings)
    warehouse.build_silver(sql_params(settings))
    warehouse.build_gold(sql_params(settings))
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
        with open_warehouse(settings).transaction() as session:
            rows = risk_model.read_rows(session, settings)
            if not session.table_exists("gold_transaction_risk"):
                return rows, None
            return rows, session.query(training.GOLD_SCORES_SQL, {})

    rows, gold = timed("read features and labels", 0, read)
    stages[-1][1] = len(rows)
    labelled = rows[rows["is_fraud"].notna()]
    split = risk_model.time_split(labelled, settings)
    model = timed(
        "fit and calibrate",
        len(labelled),
        lambda: training.fit(labelled, split, settings, gold),
    )
    model["metrics"] = timed(
        "evaluate (model, rules, baselines)",
        len(labelled),
        lambda: training.evaluate(model, rows, split, settings, gold),
    )
    timed("save", 1, lambda: risk_model.save(model, settings.paths.models_path))
    return stages, model


def gold_with_and_without_model(settings: Settings) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds of a full Gold build without a model (the rules
    and the anomaly score), of scoring every row alone with the model just
    saved, and of scoring and Gold as the flow runs them (the engine may
    score beside the Gold models that do not read the scores): what a model
    adds to a build. CPU seconds are this process's, every thread's: on a
    shared machine they say what the work cost where the wall clock says
    how long it waited for a core."""
    params = sql_params(settings)
    out: dict[str, tuple[float, float]] = {}
    warehouse = open_warehouse(settings)
    with warehouse.transaction() as session:
        session.apply_schema()  # a warehouse an earlier version made
        session.execute(f"delete from {model_scoring.TABLE}")

    def timed(name: str, fn) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        out[name] = (time.perf_counter() - wall, time.process_time() - cpu)

    def score(session) -> None:
        model_scoring.score(warehouse, session, settings)

    def scoring() -> None:
        with warehouse.transaction() as session:
            score(session)

    timed(NO_MODEL, lambda: warehouse.build_gold(params))
    timed("scoring every row, alone", scoring)
    timed(WITH_MODEL, lambda: warehouse.build_gold(params, score=score))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--data-dir", help="an existing warehouse to train on")
    parser.add_argument(
        "--engine",
        choices=("sqlite", "duckdb"),
        default="sqlite",
        help="the warehouse's engine (default sqlite)",
    )
    parser.add_argument(
        "--external", action="store_true", help="the labelled Sparkov development set"
    )
    args = parser.parse_args(argv)
    if args.external and not EXTERNAL_FILE.exists():
        print(f"skipped: {EXTERNAL_FILE} is not there (../shared beside the repo)")
        return 0
    print(
        f"{os.cpu_count()} cores, load average before: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="ssa-bench-train-") as tmp:
        data_dir = Path(args.data_dir) if args.data_dir else Path(tmp) / "data"
        settings = Settings(
            engine=args.engine,
            paths={"data_dir": data_dir},
            generator={"n_customers": args.customers, "days": args.days},
            model={"evaluation_start": EXTERNAL_EVALUATION_START}
            if args.external
            else {},
        )
        if args.external:
            seconds = build_external(settings, Path(tmp))
            print(f"built Bronze, Silver and Gold in {seconds:.1f} s")
        elif not args.data_dir:
            print(f"built Bronze, Silver and Gold in {build(settings):.1f} s")
        else:
            try:
                training.preflight(settings)
            except (ModelError, WarehouseError) as exc:
                print(f"cannot train on {data_dir}: {exc}", file=sys.stderr)
                return 2
        stages, model = run(settings)
        gold = gold_with_and_without_model(settings)
    total = sum(s[2] for s in stages)
    rows = stages[0][1]
    table = [[name, f"{rows:,}", f"{s:.2f}"] for name, rows, s in stages]
    table.append(["training, in all", "", f"{total:.2f}"])
    print(
        tabulate(
            table,
            headers=["stage", "rows", "wall s"],
            colalign=("left", "right", "right"),
        )
    )
    print("\n".join(training.search_lines(model)))
    print()
    print(training.metrics_table(model).to_markdown(floatfmt=".3f"))
    print()
    verdict = "ok" if total <= TARGET_TRAIN_S else "MISSED"
    if rows < 1_000_000:
        verdict += " (fewer rows than the target's)"
    print(
        tabulate(
            [
                [
                    "training (target: 1M rows <= 60 s)",
                    f"{rows:,} rows: {total:.2f} s",
                    verdict,
                ]
            ],
            headers=["target", "measured", ""],
        )
    )
    (with_wall, with_cpu), (gold_wall, gold_cpu) = gold[WITH_MODEL], gold[NO_MODEL]
    score_wall, score_cpu = with_wall - gold_wall, with_cpu - gold_cpu
    share = score_wall / gold_wall
    print()
    print(
        tabulate(
            [
                [name, f"{rows:,}", f"{wall:.2f}", f"{cpu:.2f}"]
                for name, (wall, cpu) in gold.items()
            ],
            headers=["Gold stage", "rows", "wall s", "CPU s"],
            colalign=("left", "right", "right", "right"),
        )
    )
    print(
        tabulate(
            [
                [
                    "scoring adds <= 15 % to a Gold build",
                    f"{share:.0%} ({score_wall:.2f} s on {gold_wall:.2f} s)",
                    "ok" if share <= TARGET_SCORING_SHARE else "MISSED",
                ],
                [
                    "the same in CPU seconds",
                    f"{score_cpu / gold_cpu:.0%} ({score_cpu:.2f} s on "
                    f"{gold_cpu:.2f} s)",
                    "",
                ],
            ],
            headers=["target", "measured", ""],
        )
    )
    print(
        f"rounds {model['best_iteration']} (settings "
        f"{training.chosen_name(model)}); load average after: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
