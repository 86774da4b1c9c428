"""Silver rebuilt with the big per-customer models in parallel slices gives
exactly the tables of every model run on one connection."""

from __future__ import annotations

import sqlite3

import pandas as pd

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
