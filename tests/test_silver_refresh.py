"""Silver rebuilt with the big per-customer models in parallel slices gives
exactly the tables of every model run on one connection."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from ssa import refresh, warehouse
from ssa.generator import generate
from ssa.rules import SILVER_MODELS
from ssa.settings import Settings
from tasks.bronze import _load
from tasks.silver import sql_params


def _tables(path) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(path) as conn:
        return {
            m: pd.read_sql_query(
                f"select * from {refresh.table_of(m)}", conn
            ).sort_values("transaction_id", ignore_index=True)
            for m in SILVER_MODELS
        }


def test_parallel_rebuild_equals_one_connection(tmp_path) -> None:
    settings = Settings(
        paths={"data_dir": tmp_path},
        generator={"n_customers": 150, "n_merchants": 40, "days": 7},
    )
    _load(generate(settings), settings)
    path = settings.paths.warehouse_path
    rows = refresh.rebuild_all_parallel(path, sql_params(settings))
    parallel = _tables(path)
    with warehouse.connect(path) as conn:
        refresh.rebuild_all(conn, sql_params(settings))
    plain = _tables(path)
    assert rows[refresh.FINAL_MODEL] == len(plain[refresh.FINAL_MODEL]) > 0
    for model in SILVER_MODELS:
        pd.testing.assert_frame_equal(parallel[model], plain[model], obj=model)


def test_each_model_starts_after_the_models_it_reads() -> None:
    needs = refresh.upstream_models()
    assert set(needs["silver/silver_transactions"]) >= {
        "silver/silver_customer_windows",
        "silver/silver_rule_impossible_travel",
        "silver/silver_rule_flags",
    }
    assert needs["silver/silver_rule_mule_fan_in"] == ["silver/silver_pix_transfers"]
    started: list[str] = []
    for phase in refresh._phases(needs):
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
    real = warehouse.sql_text

    def broken(relative: str) -> str:
        if relative == "silver/silver_rule_card_testing.sql":
            return "select no_such_column from bronze_transactions"
        return real(relative)

    monkeypatch.setattr(warehouse, "sql_text", broken)
    with pytest.raises(warehouse.WarehouseError, match="silver_rule_card_testing"):
        refresh.rebuild_all_parallel(
            settings.paths.warehouse_path, sql_params(settings)
        )
    with sqlite3.connect(settings.paths.warehouse_path) as conn:
        assert not warehouse.table_exists(conn, "silver_rule_flags")
