"""An engine's memory and threads come from the settings, and reach it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ssa.engines import open_warehouse
from ssa.settings import Settings


def test_duckdb_runs_with_the_memory_limit_and_threads_of_the_settings(
    tmp_path,
) -> None:
    """What keeps a ten-million-row month inside a laptop's memory: past the
    limit DuckDB spills to disk instead of growing."""
    settings = Settings(
        engine="duckdb",
        paths={"data_dir": tmp_path},
        engines={"duckdb_memory_limit": "1GiB", "duckdb_threads": 1},
    )
    with open_warehouse(settings).transaction() as session:
        limit, threads = session.fetchall(
            "select current_setting('memory_limit'), current_setting('threads')"
        )[0]
    assert (limit, int(threads)) == ("1.0 GiB", 1)


def test_a_memory_limit_duckdb_would_not_read_is_refused_with_its_name() -> None:
    with pytest.raises(ValidationError, match="duckdb_memory_limit"):
        Settings(engines={"duckdb_memory_limit": "6 gigs"})
