"""The commands as typed in a terminal: refusals in one line before any
server starts, and --help that shows what a flag left out means."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from ssa.settings import REPO_ROOT


def _run(*argv: str, cwd=REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("flows.medallion", "--customers", "0"),
            "invalid setting generator.n_customers: Input should be greater "
            "than or equal to 1 (got 0)",
        ),
        (("flows.medallion", "--data-dir", "{tmp}"), "already holds the duckdb"),
        (
            ("flows.ingest", "--engine", "sqlite", "--data-dir", "{tmp}", "{tmp}/x"),
            "already holds",
        ),
        (
            ("flows.watcher", "--set", "rules.velocity_min_count=many"),
            "invalid setting rules.velocity_min_count: Input should be a valid integer",
        ),
        (("flows.train", "--set", "rule.velocity_min_count=6"), "invalid setting rule"),
        (
            ("flows.medallion", "--set", "rules.velocity_min_cuont=6"),
            "invalid setting rules.velocity_min_cuont: no such setting (a typo?)",
        ),
    ],
)
def test_a_refusal_is_one_line_before_any_server(tmp_path, argv, message) -> None:
    (tmp_path / "ssa.duckdb").touch()
    (tmp_path / "x.csv").write_text("transaction_id\n", encoding="utf-8")
    (tmp_path / "x").write_text("transaction_id\n", encoding="utf-8")
    done = _run(*(a.format(tmp=tmp_path) for a in argv))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert message in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert "temporary server" not in done.stdout + done.stderr
    assert not (tmp_path / "ssa.db").exists()


def test_nothing_to_ingest_is_said_before_any_server(tmp_path) -> None:
    """Every path unusable: one line each, exit 1 (some unusable paths among
    good ones are reported the same way after the others load)."""
    done = _run("flows.ingest", "--data-dir", str(tmp_path), f"{tmp_path}/missing.csv")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"{tmp_path}/missing.csv: no such file"]
    assert "temporary server" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "shown"),
    [
        ("flows.medallion", ("default 3000", "default 30", "default 42", "data/")),
        ("flows.make_drop", ("default: 10000", "default 3000", "default: standard")),
        ("flows.watcher", ("SIGINT or SIGTERM", "--mode prefect", "data/incoming")),
        ("flows.ingest", ("--no-refresh", "data/incoming")),
    ],
)
def test_help_is_whole_and_shows_defaults(module, shown) -> None:
    done = _run(module, "--help")
    assert done.returncode == 0, done.stderr
    for words in shown:
        assert words in done.stdout, (module, words)
    assert "(default: None)" not in done.stdout


@pytest.mark.parametrize("module", ["flows.make_drop", "flows.simulate"])
def test_help_names_no_flag_the_command_lacks(module) -> None:
    """A command without --engine does not tell the user to give one."""
    done = _run(module, "--help")
    assert done.returncode == 0, done.stderr
    assert "--engine" not in done.stdout


def test_make_drop_reads_a_duckdb_month_in_its_data_folder(tmp_path) -> None:
    """make_drop has no --engine: given a DuckDB month's folder it reads that
    warehouse, not a SQLite file the folder does not hold."""
    from flows.make_drop import main
    from ssa.generator import generate
    from ssa.settings import Settings
    from tasks.bronze import _load

    month = Settings(
        engine="duckdb",
        paths={"data_dir": tmp_path},
        generator={"seed": 7, "n_customers": 60, "n_merchants": 20, "days": 7},
    )
    _load(generate(month), month)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["--rows", "20", "--data-dir", str(tmp_path), "--out", str(out)]) == 0
    (drop,) = out.glob("*.csv")
    assert "-seed7-" in drop.name  # the DuckDB month's seed, not the default 42
    assert not (tmp_path / "ssa.db").exists()


def test_make_drop_extends_the_warehouse_in_its_data_folder(tmp_path) -> None:
    """Seed and customers come from the warehouse, and the drop starts after
    its last row, so a second demo drop after the first still loads rows."""
    from datetime import timedelta

    from flows.make_drop import main
    from ssa.generator import generate
    from ssa.intake.ingest import ingest_file
    from ssa.settings import Settings
    from tasks.bronze import _load

    month = Settings(
        paths={"data_dir": tmp_path},
        generator={"seed": 7, "n_customers": 60, "n_merchants": 20, "days": 7},
    )
    _load(generate(month), month)
    out = tmp_path / "out"
    out.mkdir()
    args = ["--rows", "50", "--data-dir", str(tmp_path), "--out", str(out)]
    assert main(args) == 0
    (first,) = out.glob("*.csv")  # its planted labels sit in out/labels/
    assert "-seed7-" in first.name  # the warehouse's seed, not the default 42
    rows = pd.read_csv(first)
    # The warehouse's 60 customers, not the default 3,000.
    assert rows["customer_id"].isin([f"C{i:07d}" for i in range(1, 61)]).all()
    month_end = month.generator.start_date + timedelta(days=month.generator.days)
    assert rows["created_at"].min()[:10] >= month_end.isoformat()
    # Once the first drop is in Bronze, the next one starts after it.
    ingest_file(first, month)
    second_out = tmp_path / "out2"
    second_out.mkdir()
    assert main([*args[:-1], str(second_out)]) == 0
    (second,) = second_out.glob("*.csv")
    assert pd.read_csv(second)["created_at"].min() > rows["created_at"].max()


def test_set_gives_any_field_and_the_named_flags_win() -> None:
    from flows.medallion import parse_settings

    settings = parse_settings(
        [
            "--set",
            "rules.velocity_min_count=6",
            "--set",
            "risk.level_medium=30",
            "--set",
            "generator.days=9",
            "--set",
            "exports.mask_customer_names=false",
            "--days",
            "5",
        ]
    )
    assert settings.rules.velocity_min_count == 6
    assert settings.risk.level_medium == 30
    assert settings.exports.mask_customer_names is False
    assert settings.generator.days == 5  # --days over --set
    assert parse_settings([]).rules.velocity_min_count != 6
