"""Shared fixtures: a Prefect test harness for flow tests, tiny warehouses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# The modules that take a minute or more each (a Spark JVM and a full rebuild
# on it, the whole local stack in a browser, the watcher's servers), slowest
# first. They are collected before the others, so that pytest-xdist
# (pyproject.toml: one module per worker, in collection order) starts them at
# once and spreads the short modules around them, instead of ending the run
# with one of them running alone.
SLOW_FIRST = (
    "tests/test_spark_engine.py",
    "tests/integration/test_stack.py",
    "tests/test_watcher.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of SLOW_FIRST first; every other one keeps its place."""
    rank = {path: place for place, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole session (~10 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def settings(tmp_path):
    """Settings for a drop test: a warehouse and folders under tmp_path."""
    from tests.drops import settings_for  # imports Prefect: after the env above

    return settings_for(tmp_path / "data")


@pytest.fixture
def incoming(settings) -> Path:
    """The watched folder of ``settings``, created."""
    settings.paths.incoming_path.mkdir(parents=True)
    return settings.paths.incoming_path


# Fraud rates for the risk-model tests: every scenario planted three times
# as often as by default.
RATES = {
    f"{name}_rate": 0.03
    for name in (
        "impossible_travel",
        "velocity_burst",
        "amount_spike",
        "night_pix_limit",
        "card_testing",
        "new_device",
        "structuring",
        "first_time_payee",
    )
}


@pytest.fixture(scope="module")
def labelled_month(tmp_path_factory):
    """A synthetic month with every scenario planted more often than by
    default (enough fraud for a training and an evaluation window), refined
    to Silver, with every row's features and label (risk_model.read_rows)."""
    from ssa.engines import incremental
    from ssa.engines.sqlite_warehouse import SQLiteWarehouse
    from ssa.generator import generate
    from ssa.models import SILVER
    from ssa.risk import risk_model
    from ssa.settings import Settings, sql_params
    from tasks.bronze import _load

    settings = Settings(
        paths={"data_dir": tmp_path_factory.mktemp("model")},
        generator={"n_customers": 600, "n_merchants": 120, "days": 28, "seed": 4},
        fraud=RATES,
        model={"delay_days": 3, "max_rounds": 120},
    )
    _load(generate(settings), settings)
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        incremental.rebuild(conn, SILVER, sql_params(settings))
        rows = risk_model.read_rows(conn, settings)
    return settings, rows
