"""The commands as typed in a terminal: refusals in one line before any
server starts, and --help that shows what a flag left out means."""

from __future__ import annotations

import subprocess
import sys

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
        (("flows.ingest", "{tmp}/missing.csv"), "error: no such file: "),
        (("flows.medallion", "--data-dir", "{tmp}"), "already holds the duckdb"),
        (("flows.ingest", "--data-dir", "{tmp}", "{tmp}/x.csv"), "already holds"),
    ],
)
def test_a_refusal_is_one_line_before_any_server(tmp_path, argv, message) -> None:
    (tmp_path / "ssa.duckdb").touch()
    (tmp_path / "x.csv").write_text("transaction_id\n", encoding="utf-8")
    done = _run(*(a.format(tmp=tmp_path) for a in argv))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert message in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert "temporary server" not in done.stdout + done.stderr
    assert not (tmp_path / "ssa.db").exists()


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
