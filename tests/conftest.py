"""Shared fixtures: a Prefect test harness for flow tests, tiny warehouses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


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
