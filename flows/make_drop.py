"""Make a realistic drop file from the generator, for demos and tests.

    python -m flows.make_drop --rows 10000 --out data/incoming/

The rows are the generator's next days for the same customers: the seed and
customer count are read from the warehouse in the data folder (flags given
win), and the drop starts the day after the last Bronze row, the generated
month or an earlier drop, so each drop adds new history to people Silver
already knows. The file is
written under a hidden ``.part`` name and renamed when complete, the drop
convention the watcher expects. ``--style brazilian`` writes what a Brazilian
spreadsheet exports (``;``, decimal comma, BOM); ``--bad-rows`` plants rows the
watcher must reject, one problem each.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ssa.cli import (
    add_data_dir_option,
    add_generator_options,
    parser_for,
    settings_from,
)
from ssa.engines import following_folder, open_warehouse
from ssa.generator import generate
from ssa.generator.contract_rows import salted_ids, to_contract
from ssa.intake.source_mapping import LABELS_FOLDER
from ssa.local_time import date_at
from ssa.settings import GENERATOR_MAX_DAYS, GeneratorSettings, Settings

Style = Literal["standard", "brazilian"]
# The generator's planters expect every customer to have transactions in the
# period; over a day or two some have none (IndexError in amount_spike), so a
# drop is cut from at least a week.
MIN_DAYS = 7
# One planted problem per bad row, in turn; each is a reason the contract names.
BAD_KINDS = (
    "missing_customer",
    "bad_time",
    "zero_amount",
    "nowhere",
    "repeated_id",
)


def drop_frame(
    settings: Settings, rows: int, start: date | None = None
) -> pd.DataFrame:
    """The first ``rows`` generated transactions from ``start``, as contract text."""
    return drop_with_labels(settings, rows, start)[0]


def drop_with_labels(
    settings: Settings, rows: int, start: date | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The drop as contract text, and its planted labels as a labels file's
    rows (transaction_id, is_fraud, fraud_type): every row, 0 or 1."""
    cfg = settings.generator
    start = start or cfg.start_date + timedelta(days=cfg.days)
    per_day = cfg.n_customers * cfg.tx_per_customer_day
    days = max(MIN_DAYS, math.ceil(1.2 * rows / per_day))
    while True:
        shifted = Settings.model_validate(
            {
                **settings.model_dump(),
                "generator": {
                    **cfg.model_dump(),
                    "start_date": start,
                    "days": min(days, GENERATOR_MAX_DAYS),
                },
            }
        )
        data = generate(shifted)
        tx = data.transactions
        if len(tx) >= rows or days >= GENERATOR_MAX_DAYS:
            break
        days *= 2
    if len(tx) < rows:
        raise ValueError(
            f"{rows} rows need more than {GENERATOR_MAX_DAYS} days for "
            f"{cfg.n_customers} customers: raise the customer count"
        )
    head = tx.head(rows)
    planted = data.labels.set_index("transaction_id")
    fraud = head["transaction_id"].map(planted["is_fraud"]).fillna(0).astype(int)
    kind = head["transaction_id"].map(planted["scenario"]).where(fraud == 1, "")
    ids = _ids_for(head["transaction_id"], start)
    labels = pd.DataFrame(
        {"transaction_id": ids, "is_fraud": fraud, "fraud_type": kind.fillna("")}
    ).reset_index(drop=True)
    offset = settings.rules.utc_offset_seconds
    frame = to_contract(head.assign(transaction_id=ids), offset)
    return frame, labels


def _ids_for(ids: pd.Series, start: date) -> pd.Series:
    """Drops of different days apart, the same drop made twice identical."""
    return salted_ids(ids, start.isoformat().encode())


def brazilian(frame: pd.DataFrame) -> pd.DataFrame:
    """Decimal commas and thousands dots, as pt-BR spreadsheets write them."""
    out = frame.copy()
    pieces = out["amount"].str.split(".", n=1)
    whole, cents = pieces.str[0], pieces.str[1]
    grouped = whole.map(lambda w: f"{int(w):,}".replace(",", "."))
    out["amount"] = grouped + "," + cents
    for column in ("lat", "lon"):
        out[column] = out[column].str.replace(".", ",", regex=False)
    return out


def plant_bad_rows(frame: pd.DataFrame, count: int, seed: int) -> pd.DataFrame:
    """Spoil ``count`` rows, one contract problem each, at seeded places."""
    if count > len(frame) - 1:
        raise ValueError(f"--bad-rows {count} needs more than {count} rows")
    out = frame.copy()
    rng = np.random.default_rng(seed)
    places = np.sort(rng.choice(np.arange(1, len(frame)), size=count, replace=False))
    for n, row in enumerate(places):
        kind = BAD_KINDS[n % len(BAD_KINDS)]
        if kind == "missing_customer":
            out.loc[row, "customer_id"] = ""
        elif kind == "bad_time":
            out.loc[row, "created_at"] = "31/10/2026 25:61"
        elif kind == "zero_amount":
            out.loc[row, "amount"] = "0.00"
        elif kind == "nowhere":
            out.loc[row, ["bairro", "lat", "lon"]] = ["Atlântida", "", ""]
        else:
            out.loc[row, "transaction_id"] = out.loc[row - 1, "transaction_id"]
    return out


def write_drop(frame: pd.DataFrame, target: Path, style: Style = "standard") -> Path:
    """Write under a hidden .part name, then rename: readers see all or nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    if style == "brazilian":
        brazilian(frame).to_csv(
            tmp, index=False, sep=";", encoding="utf-8-sig", lineterminator="\r\n"
        )
    else:
        frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    os.replace(tmp, target)
    return target


def make_drop(
    settings: Settings,
    rows: int,
    out: Path,
    *,
    start: date | None = None,
    style: Style = "standard",
    bad_rows: int = 0,
    not_after: int | None = None,
) -> Path:
    """A drop file of ``rows`` rows in ``out`` (a folder or a file name), and
    its planted labels in ``labels/`` beside it, as a bank receives reported
    fraud apart from the payments: the demo's fraud is judged, not counted
    as unlabelled. ``not_after`` (epoch seconds): refuse a drop with a row
    later than that, which the intake would reject as in the future."""
    frame, labels = drop_with_labels(settings, rows, start)
    if not_after is not None:
        last = pd.to_datetime(frame["created_at"], utc=True).max()
        if last.timestamp() > not_after:
            raise ValueError(
                f"{rows:,} rows from {frame['created_at'].iloc[0][:10]} reach "
                f"{last.tz_convert(None):%Y-%m-%d %H:%M} UTC, later than now "
                "allows (limits.future_tolerance_seconds): the intake would "
                "reject them as in the future; give an earlier --start"
            )
    if bad_rows:
        frame = plant_bad_rows(frame, bad_rows, settings.generator.seed)
    first_day = frame["created_at"].iloc[0][:10]
    if out.suffix.lower() != ".csv":
        out = out / (
            f"transactions-{first_day}-seed{settings.generator.seed}-{rows}.csv"
        )
    written = write_drop(frame, out, style)
    write_drop(labels, out.parent / LABELS_FOLDER / f"{out.stem}.labels.csv")
    return written


def from_warehouse(settings: Settings, args: argparse.Namespace) -> Settings:
    """The settings the warehouse was generated with, where the flags leave
    them open, and the day after its last row as the drop's first day.
    The folder's warehouse is read whichever engine made it (make_drop has
    no --engine: a DuckDB month's folder holds no SQLite file to read)."""
    warehouse = open_warehouse(following_folder(settings))
    if not warehouse.exists():
        return settings
    with warehouse.transaction() as session:
        if not session.table_exists("bronze_customers"):
            return settings
        extent = session.query("bronze/generator_extent.sql", {}).iloc[0]
    generator: dict[str, object] = {}
    source = extent["generator_source"]
    if args.seed is None and isinstance(source, str) and "seed=" in source:
        generator["seed"] = int(source.rsplit("seed=", 1)[1])
    if args.customers is None and extent["customers"]:
        generator["n_customers"] = int(extent["customers"])
    last = extent["last_created_at_epoch"]
    if args.start is None and args.days is None and pd.notna(last):
        offset = settings.rules.utc_offset_seconds
        last_day = date_at(int(last), offset)
        # drop_frame starts at start_date + days: the day after the last row.
        generator["start_date"] = last_day
        generator["days"] = 1
    if not generator:
        return settings
    validated = GeneratorSettings.model_validate(
        {**settings.generator.model_dump(), **generator}
    )
    return settings.model_copy(update={"generator": validated})


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--rows", type=int, default=10_000, help="data rows")
    parser.add_argument(
        "--out",
        default=None,
        help="folder or .csv file (default: the watched folder, data/incoming/)",
    )
    parser.add_argument("--start", type=date.fromisoformat, help="first local day")
    add_generator_options(
        parser, days_help="days of the warehouse's month (drops start after)"
    )
    parser.add_argument(
        "--style",
        choices=("standard", "brazilian"),
        default="standard",
        help="standard CSV, or a Brazilian spreadsheet export",
    )
    parser.add_argument("--bad-rows", type=int, default=0, help="rows to spoil")
    add_data_dir_option(
        parser,
        "data folder: its warehouse, whichever engine made it, gives the "
        "seed, customers and first day, and its incoming/ gets the drop "
        "unless --out (default data/; a DuckDB or Spark month's is "
        "data/duckdb or data/spark)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = from_warehouse(settings_from(args), args)
        if args.rows < 1:
            raise ValueError("--rows must be at least 1")
        out = Path(args.out) if args.out else settings.paths.incoming_path
        path = make_drop(
            settings,
            args.rows,
            out,
            start=args.start,
            style=args.style,
            bad_rows=args.bad_rows,
            not_after=int(time.time()) + settings.limits.future_tolerance_seconds,
        )
    except (ValidationError, ValueError) as exc:
        print(f"make_drop: {exc}", file=sys.stderr)
        return 2
    labels = path.parent / LABELS_FOLDER / f"{path.stem}.labels.csv"
    print(
        f"wrote {path} ({args.rows:,} rows, {args.style}) and its labels in "
        f"{labels}\n"
        "the watcher reads both; to ingest them once by hand: "
        f"python -m flows.ingest {path} --labels {labels}"
        + (f" --data-dir {args.data_dir}" if args.data_dir else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
