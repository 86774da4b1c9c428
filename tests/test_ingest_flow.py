"""The ingest flows under Prefect's test harness, and the new settings."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from flows.ingest import incoming_refresh, ingest_drops
from ssa import warehouse
from ssa.settings import Settings
from tests.drops import assert_accounting, bronze_ids, sample, settings_for, write


def test_ingest_drops_reports_each_file(tmp_path, prefect_harness):
    settings = settings_for(tmp_path / "data")
    incoming = settings.paths.incoming_path
    good = write(incoming / "good.csv", sample(120))
    empty = incoming / "empty.csv"
    empty.write_bytes(b"")
    result = asyncio.run(ingest_drops([str(good), str(empty)], settings, refresh=False))
    assert [(f["file_name"], f["status"]) for f in result["files"]] == [
        ("good.csv", "loaded"),
        ("empty.csv", "quarantined"),
    ]
    assert result["rows_loaded"] == len(bronze_ids(settings)) == 120
    assert result["refresh"] is None
    assert_accounting(settings)


def test_incoming_refresh_with_nothing_pending_does_nothing(tmp_path, prefect_harness):
    settings = settings_for(tmp_path / "data")
    with warehouse.connect(settings.paths.warehouse_path) as conn:
        warehouse.apply_schema(conn)
    assert asyncio.run(incoming_refresh(settings)) == {"refreshed": False, "files": 0}


def test_incoming_refresh_without_a_warehouse_says_so(tmp_path, prefect_harness):
    settings = settings_for(tmp_path / "data")
    with pytest.raises(warehouse.WarehouseError, match="has no bronze_transactions"):
        asyncio.run(incoming_refresh(settings))


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"ingest": {"stable_seconds": -1}}, "ingest.stable_seconds"),
        ({"ingest": {"debounce_seconds": 10_000}}, "ingest.debounce_seconds"),
        ({"ingest": {"poll_seconds": 0}}, "ingest.poll_seconds"),
        ({"paths": {"incoming_folder": "x"}}, "paths.incoming_folder"),
    ],
)
def test_bad_watcher_settings_name_the_field(override: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(**override)
    assert field in str(err.value)


def test_watched_folders_live_in_the_data_dir_unless_absolute(tmp_path) -> None:
    settings = Settings(paths={"data_dir": tmp_path, "quarantine_dir": "/srv/q"})
    assert settings.paths.incoming_path == tmp_path / "incoming"
    assert settings.paths.processed_path == tmp_path / "processed"
    assert str(settings.paths.quarantine_path) == "/srv/q"
