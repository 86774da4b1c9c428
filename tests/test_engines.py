"""The same SQL files give the same tables on SQLite and DuckDB.

The portability the SQL files promise (``sql/portable-sql.md``:
integer division, NULL ordering, clamped trigonometry, ...) is only kept by
running them on both engines over the same data and comparing every table.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from ssa import duckdb_warehouse, refresh, risk_model, warehouse
from ssa.generator import generate
from ssa.rules import GOLD_MODELS, SILVER_MODELS
from ssa.settings import Settings
from tasks.bronze import _load
from tasks.silver import sql_params

BRONZE_KEYS = {
    "bronze_transactions": "transaction_id",
    "bronze_customers": "customer_id",
    "bronze_merchants": "merchant_id",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[sqlite3.Connection, object]:
    """A fortnight with every scenario planted, refined by both engines from
    the same Bronze rows."""
    tmp = tmp_path_factory.mktemp("engines")
    settings = Settings(
        paths={"data_dir": tmp},
        generator={"n_customers": 300, "n_merchants": 60, "days": 14, "seed": 11},
    )
    _load(generate(settings), settings)
    params = sql_params(settings)
    lite = sqlite3.connect(settings.paths.warehouse_path)
    refresh.rebuild_all(lite, params)
    refresh.rebuild_gold(lite, params)
    lite.commit()
    with duckdb_warehouse.connect(tmp / "ssa.duckdb") as duck:
        duckdb_warehouse.apply_schema(duck)
        for table, key in BRONZE_KEYS.items():
            frame = pd.read_sql_query(f"select * from {table}", lite)
            duckdb_warehouse.insert_new(duck, table, key, frame)
        duckdb_warehouse.rebuild_silver(duck, params)
        duckdb_warehouse.rebuild_gold(duck, params)
    duck = duckdb_warehouse.duckdb.connect(str(tmp / "ssa.duckdb"), read_only=True)
    yield lite, duck
    lite.close()
    duck.close()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns[:2]), ignore_index=True)


def _assert_same(
    model: str, lite: pd.DataFrame, duck: pd.DataFrame, rtol: float = 1e-12
) -> None:
    assert list(lite.columns) == list(duck.columns), model
    assert len(lite) == len(duck) > 0, model
    lite, duck = _sorted(lite), _sorted(duck)
    for column in lite.columns:
        a, b = lite[column], duck[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            same = np.isclose(
                a.astype(float), b.astype(float), rtol=rtol, atol=0, equal_nan=True
            )
        else:
            same = (a.isna() & b.isna()) | (a.astype(str) == b.astype(str))
        assert bool(np.all(same)), (
            f"{model}.{column}: {int((~np.asarray(same)).sum())} rows differ, "
            f"e.g. {a[~np.asarray(same)].head(3).tolist()} "
            f"vs {b[~np.asarray(same)].head(3).tolist()}"
        )


@pytest.mark.parametrize("model", SILVER_MODELS + GOLD_MODELS)
def test_every_model_gives_the_same_rows_on_both_engines(built, model) -> None:
    lite, duck = built
    table = refresh.table_of(model)
    ours = pd.read_sql_query(f"select * from {table}", lite)
    theirs = duck.execute(f"select * from {table}").df()
    _assert_same(model, ours, theirs)


def test_the_comparison_sees_a_changed_threshold(built, tmp_path) -> None:
    """The check above can fail: one threshold moved on one engine only."""
    lite, _ = built
    settings = Settings(rules={"hop_max_speed_kmh": 5.0})
    with duckdb_warehouse.connect(tmp_path / "other.duckdb") as duck:
        duckdb_warehouse.apply_schema(duck)
        frame = pd.read_sql_query("select * from bronze_transactions", lite)
        duckdb_warehouse.insert_new(
            duck, "bronze_transactions", "transaction_id", frame
        )
        duckdb_warehouse.materialize(
            duck, "silver/silver_rule_impossible_travel", sql_params(settings)
        )
        theirs = duck.execute("select * from silver_rule_impossible_travel").df()
    ours = pd.read_sql_query("select * from silver_rule_impossible_travel", lite)
    with pytest.raises(AssertionError, match="is_impossible_travel"):
        _assert_same("silver_rule_impossible_travel", ours, theirs)


def test_sql_parameters_become_duckdb_markers() -> None:
    sql = "select a::bigint from t where x >= :hop_min_distance_km -- :not_this"
    assert duckdb_warehouse.to_duckdb(sql).startswith(
        "select a::bigint from t where x >= $hop_min_distance_km"
    )
    assert warehouse.bind(sql, {"hop_min_distance_km": 2}) == {"hop_min_distance_km": 2}


def test_the_risk_model_reads_the_same_features_on_both_engines(built) -> None:
    lite, duck = built
    params = {"utc_offset_seconds": Settings().rules.utc_offset_seconds}
    ours = warehouse.query_numeric(
        lite, risk_model.FEATURES_SQL, params, risk_model.TEXT_COLUMNS
    )
    theirs = duckdb_warehouse.query_numeric(
        duck, risk_model.FEATURES_SQL, params, risk_model.TEXT_COLUMNS
    )
    numeric = [c for c in ours.columns if c not in risk_model.TEXT_COLUMNS]
    assert (ours[numeric].dtypes == "float64").all()
    assert (theirs[numeric].dtypes == "float64").all()
    _assert_same("model/features", ours, theirs)
