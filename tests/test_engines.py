"""The same SQL files give the same tables on SQLite and DuckDB.

The portability the SQL files promise (``sql/portable-sql.md``:
integer division, NULL ordering, clamped trigonometry, ...) is only kept by
running them on both engines over the same data and comparing every table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssa.engines import base, open_warehouse
from ssa.engines.base import SQL_DIR, table_of
from ssa.engines.duckdb_warehouse import DuckDBWarehouse, to_duckdb
from ssa.generator import generate
from ssa.models import BY_NAME, GOLD_MODELS, SILVER_MODELS
from ssa.risk import risk_model
from ssa.settings import Settings, sql_params
from tasks.bronze import _load
from tests.rows import without_device_first_use

# The dashboard's queries (ssa/report/dashboard/data.py) and their parameters;
# the latest files' list needs a watched folder's log, which these builds
# have not.
DASHBOARD_QUERIES = {
    "gold/dashboard_kpis.sql": {},
    "gold/dashboard_bairros.sql": {},
    "gold/dashboard_daily_flags.sql": {},
    "gold/dashboard_hour_channel.sql": {},
    "gold/dashboard_sources.sql": {},
    "gold/dashboard_top.sql": {"top_rows": 50},
}
NO_LOG_QUERIES = {"gold/dashboard_arrivals.sql"}

BRONZE_KEYS = {
    "bronze_transactions": "transaction_id",
    "bronze_customers": "customer_id",
    "bronze_merchants": "merchant_id",
}


# A file with no customer (a mapping's customers: none): every model must
# build its rows alike on every engine, none of them one customer's.
UNNAMED_BATCH = "file-no-customer"


def unnamed_rows(transactions: pd.DataFrame) -> pd.DataFrame:
    """Every 25th stored payment again, as a file that names no customer
    would bring it: new ids, no customer_id, a batch of its own."""
    rows = transactions.sort_values("transaction_id", ignore_index=True).iloc[::25]
    return rows.assign(
        transaction_id="nc-" + rows["transaction_id"].astype(str),
        customer_id=None,
        batch_id=UNNAMED_BATCH,
        source="file:no_customer/export.csv",
    )


def add_unnamed_rows(warehouse) -> int:
    """Store unnamed_rows of the warehouse's own Bronze in it."""
    with warehouse.transaction() as session:
        rows = unnamed_rows(session.read_table("bronze_transactions"))
        return session.insert_new("bronze_transactions", "transaction_id", rows)


def _bronze(settings: Settings) -> dict[str, pd.DataFrame]:
    with open_warehouse(settings).transaction() as session:
        return {t: session.read_table(t) for t in BRONZE_KEYS}


def _copy_bronze(frames: dict[str, pd.DataFrame], warehouse) -> None:
    with warehouse.transaction() as session:
        session.apply_schema()
        for table, key in BRONZE_KEYS.items():
            session.insert_new(table, key, frames[table])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A fortnight with every scenario planted, and a file with no customer,
    refined by both engines from the same Bronze rows."""
    tmp = tmp_path_factory.mktemp("engines")
    settings = Settings(
        paths={"data_dir": tmp},
        generator={"n_customers": 300, "n_merchants": 60, "days": 14, "seed": 11},
        # A look-back inside the fortnight: derived first uses both known
        # and not known yet.
        rules={"device_history_min_seconds": 4 * 86_400},
    )
    _load(without_device_first_use(generate(settings)), settings)
    params = sql_params(settings)
    lite = open_warehouse(settings)
    assert add_unnamed_rows(lite) > 0
    lite.build_silver(params)
    lite.build_gold(params)
    duck = DuckDBWarehouse(tmp / "ssa.duckdb")
    _copy_bronze(_bronze(settings), duck)
    duck.build_silver(params)
    duck.build_gold(params)
    return settings, lite, duck


def _tables(warehouse, models=(*SILVER_MODELS, *GOLD_MODELS)) -> dict:
    with warehouse.transaction() as session:
        return {m: session.read_table(table_of(m)) for m in models}


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


@pytest.fixture(scope="module")
def tables(built):
    _, lite, duck = built
    return _tables(lite), _tables(duck)


@pytest.mark.parametrize("model", SILVER_MODELS + GOLD_MODELS)
def test_every_model_gives_the_same_rows_on_both_engines(tables, model) -> None:
    lite, duck = tables
    _assert_same(model, lite[model], duck[model])


def test_the_comparison_sees_a_changed_threshold(built, tables, tmp_path) -> None:
    """The check above can fail: one threshold moved on one engine only."""
    settings, _, _ = built
    other = Settings(rules={"hop_max_speed_kmh": 5.0})
    duck = DuckDBWarehouse(tmp_path / "other.duckdb")
    _copy_bronze(_bronze(settings), duck)
    model = "silver/silver_rule_impossible_travel"
    with duck.transaction() as session:
        session.materialize(BY_NAME[model], sql_params(other))
        theirs = session.read_table(table_of(model))
    with pytest.raises(AssertionError, match="is_impossible_travel"):
        _assert_same(model, tables[0][model], theirs)


def test_the_dashboard_queries_cover_every_dashboard_file() -> None:
    files = {f"gold/{p.name}" for p in (SQL_DIR / "gold").glob("dashboard_*.sql")}
    assert files == set(DASHBOARD_QUERIES) | NO_LOG_QUERIES


@pytest.mark.parametrize("query", DASHBOARD_QUERIES)
def test_the_dashboard_reads_the_same_rows_on_both_engines(built, query) -> None:
    _, lite, duck = built
    read = []
    for warehouse in (lite, duck):
        with warehouse.transaction() as session:
            read.append(session.query(query, DASHBOARD_QUERIES[query]))
    _assert_same(query, *read)


def test_sql_parameters_become_duckdb_markers() -> None:
    sql = "select a::bigint from t where x >= :hop_min_distance_km -- :not_this"
    assert to_duckdb(sql).startswith(
        "select a::bigint from t where x >= $hop_min_distance_km"
    )
    assert base.bind(sql, {"hop_min_distance_km": 2}) == {"hop_min_distance_km": 2}


def test_the_risk_model_reads_the_same_features_on_both_engines(built) -> None:
    _, lite, duck = built
    params = {"utc_offset_seconds": Settings().rules.utc_offset_seconds}
    read = []
    for warehouse in (lite, duck):
        with warehouse.transaction() as session:
            read.append(
                session.query_numeric(
                    risk_model.FEATURES_SQL, params, risk_model.TEXT_COLUMNS
                )
            )
    ours, theirs = read
    numeric = [c for c in ours.columns if c not in risk_model.TEXT_COLUMNS]
    assert (ours[numeric].dtypes == "float64").all()
    assert (theirs[numeric].dtypes == "float64").all()
    _assert_same("model/features", ours, theirs)


def test_a_drop_refreshed_on_duckdb_equals_its_full_rebuild(built, tmp_path) -> None:
    """DuckDB runs the watched folder's incremental refresh: a late tenth of
    the rows, refreshed, gives the tables a full build gives."""
    settings, _, _ = built
    bronze = _bronze(settings)
    tx = bronze["bronze_transactions"]
    late = np.random.default_rng(3).random(len(tx)) < 0.1
    params = sql_params(settings)
    partial = DuckDBWarehouse(tmp_path / "partial.duckdb")
    _copy_bronze({**bronze, "bronze_transactions": tx[~late]}, partial)
    partial.build_silver(params)
    partial.build_gold(params)
    with partial.transaction() as session:
        session.insert_new(
            "bronze_transactions",
            "transaction_id",
            tx[late].assign(batch_id="late-drop"),
        )
    mode, _ = partial.build_silver(params, new_batches=["late-drop"])
    partial.build_gold(params, incremental=True)
    assert mode == "incremental"
    full = DuckDBWarehouse(tmp_path / "full.duckdb")
    _copy_bronze(
        {
            **bronze,
            "bronze_transactions": tx.assign(
                batch_id=np.where(late, "late-drop", tx["batch_id"])
            ),
        },
        full,
    )
    full.build_silver(params)
    full.build_gold(params)
    ours, theirs = _tables(partial), _tables(full)
    for model in (*SILVER_MODELS, *GOLD_MODELS):
        _assert_same(model, ours[model], theirs[model])


def test_the_comparison_covers_derived_device_first_use(tables) -> None:
    """Half the customers' rows give no device first use (as a foreign
    export): the engines compare its derivation too, with first uses both
    known and not known yet."""
    lite, _ = tables
    devices = lite["silver/silver_device_first_use"]
    assert set(devices["device_first_use_known"]) == {0, 1}
    silver = lite["silver/silver_transactions"]
    assert silver["device_age_days"].isna().any()
    assert silver["is_new_device"].sum() > 0


def test_the_comparison_covers_the_device_s_other_customers(tables) -> None:
    """Shared devices (the merchants' card terminals) and rows with none or
    with no customer: the engines compare counts above zero, zeros and
    NULLs alike."""
    lite, _ = tables
    others = lite["silver/silver_transactions"]["device_other_customers"]
    assert others.isna().any()
    assert (others == 0).any()
    assert (others > 1).any()
