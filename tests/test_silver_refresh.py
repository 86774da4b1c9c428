"""Silver rebuilt with the big per-customer models in parallel slices gives
exactly the tables of every model run on one connection."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from ssa.engines import WarehouseError, base, incremental, sqlite_build
from ssa.engines.base import table_of
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.generator import generate
from ssa.models import FINAL_MODEL, SILVER, SILVER_MODELS
from ssa.settings import Settings, sql_params
from tasks.bronze import _load


def _tables(path) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(path) as conn:
        return {
            m: pd.read_sql_query(f"select * from {table_of(m)}", conn).sort_values(
                "transaction_id", ignore_index=True
            )
            for m in SILVER_MODELS
        }


def test_parallel_rebuild_equals_one_connection(tmp_path) -> None:
    settings = Settings(
        paths={"data_dir": tmp_path},
        generator={"n_customers": 150, "n_merchants": 40, "days": 7},
    )
    _load(generate(settings), settings)
    path = settings.warehouse_path
    rows = sqlite_build.rebuild_silver(path, sql_params(settings))
    parallel = _tables(path)
    with SQLiteWarehouse(path).transaction() as conn:
        incremental.rebuild(conn, SILVER, sql_params(settings))
    plain = _tables(path)
    assert rows[FINAL_MODEL] == len(plain[FINAL_MODEL]) > 0
    for model in SILVER_MODELS:
        pd.testing.assert_frame_equal(parallel[model], plain[model], obj=model)


def test_each_model_starts_after_the_models_it_reads() -> None:
    needs = sqlite_build.upstream_models()
    assert set(needs["silver/silver_transactions"]) >= {
        "silver/silver_customer_windows",
        "silver/silver_rule_impossible_travel",
        "silver/silver_rule_flags",
    }
    assert needs["silver/silver_rule_mule_fan_in"] == ["silver/silver_pix_transfers"]
    started: list[str] = []
    for phase in sqlite_build._phases(needs):
        for model in phase:
            assert set(needs[model]) <= set(started), model
            started.append(model)
    assert sorted(started) == sorted(SILVER_MODELS)


def test_a_failing_rule_fails_the_build_and_names_its_file(
    tmp_path, monkeypatch
) -> None:
    """A model that fails beside others stops the build with its own error,
    and the models that read it never run."""
    settings = Settings(
        paths={"data_dir": tmp_path},
        generator={"n_customers": 40, "n_merchants": 10, "days": 2},
    )
    _load(generate(settings), settings)
    real = base.sql_text

    def broken(relative: str) -> str:
        if relative == "silver/silver_rule_card_testing.sql":
            return "select no_such_column from bronze_transactions"
        return real(relative)

    monkeypatch.setattr(base, "sql_text", broken)
    with pytest.raises(WarehouseError, match="silver_rule_card_testing"):
        sqlite_build.rebuild_silver(settings.warehouse_path, sql_params(settings))
    with sqlite3.connect(settings.warehouse_path) as conn:
        assert not conn.execute(
            "select 1 from sqlite_master where name = 'silver_rule_flags'"
        ).fetchall()
