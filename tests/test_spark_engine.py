"""The same SQL files give the same tables and files on Spark as on SQLite.

Spark runs through the local Spark Connect server the engine starts itself
(one JVM for this module, stopped at its end), on the fortnight
tests/test_engines.py compares SQLite and DuckDB on: the portable subset
(``sql/portable-sql.md``) is only kept by running every file on every
engine and comparing what they make.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import pandas as pd
import pytest

from ssa.engines import open_warehouse, spark_server, spark_warehouse
from ssa.engines.base import WarehouseError, table_of
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.generator import generate
from ssa.models import BY_NAME, FINAL_MODEL, GOLD_MODELS, SILVER_MODELS
from ssa.risk import risk_model
from ssa.settings import REPO_ROOT, Settings, SparkLocalSettings, sql_params
from tasks import gold, report, silver
from tasks.bronze import _load
from tests.rows import without_device_first_use
from tests.test_engines import (
    BRONZE_KEYS,
    DASHBOARD_QUERIES,
    _assert_same,
    add_unnamed_rows,
)

SEEDED = {"n_customers": 300, "n_merchants": 60, "days": 14, "seed": 11}
# A look-back inside the fortnight, as in test_engines: derived device first
# uses both known and not known yet.
RULES = {"device_history_min_seconds": 4 * 86_400}
# Spark's trigonometry and sums differ from SQLite's in the last bits
# (portable-sql.md measured 4e-16 relative); what must match is the value.
RTOL = 1e-9


def _java_or_skip() -> None:
    version = spark_server.java_version()
    if version is not None and version >= spark_server.MIN_JAVA:
        return
    message = (
        f"Spark needs Java {spark_server.MIN_JAVA}+ "
        f"({'none found' if version is None else f'found {version}'}): run "
        "python scripts/setup_test_deps.py"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The seeded fortnight loaded, refined and exported by both engines,
    each from its own generator run (the generator is deterministic), with
    a file that names no customer."""
    _java_or_skip()
    lite_dir = tmp_path_factory.mktemp("sqlite")
    spark_dir = tmp_path_factory.mktemp("spark")
    lite = Settings(paths={"data_dir": lite_dir}, generator=SEEDED, rules=RULES)
    spark = Settings(
        engine="spark", paths={"data_dir": spark_dir}, generator=SEEDED, rules=RULES
    )
    for settings in (lite, spark):
        loaded = _load(without_device_first_use(generate(settings)), settings)
        add_unnamed_rows(open_warehouse(settings))
        silver._build(settings, None)
        gold._build(settings)  # no model: the model's scores cleared
        silver._export(settings)
        gold._export(settings)
        report._evaluate(settings)
    try:
        yield lite, spark, loaded
    finally:
        spark_server.stop_shared()


def _spark_table(settings: Settings, table: str) -> pd.DataFrame:
    with open_warehouse(settings).transaction() as session:
        return session.read_table(table)


def _lite_table(settings: Settings, table: str) -> pd.DataFrame:
    with sqlite3.connect(settings.warehouse_path) as conn:
        return pd.read_sql_query(f"select * from {table}", conn)


def _same(model: str, ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    _assert_same(model, ours, theirs, rtol=RTOL)


@pytest.mark.parametrize("table", [*BRONZE_KEYS, "ground_truth_labels"])
def test_bronze_lands_the_same_rows(built, table) -> None:
    lite, spark, _ = built
    drop = ["ingested_at"]
    ours = _lite_table(lite, table).drop(columns=drop, errors="ignore")
    theirs = _spark_table(spark, table).drop(columns=drop, errors="ignore")
    _same(table, ours, theirs)


def test_every_model_gives_the_same_rows_as_on_sqlite(built) -> None:
    lite, spark, _ = built
    for model in SILVER_MODELS + GOLD_MODELS:
        table = table_of(model)
        _same(model, _lite_table(lite, table), _spark_table(spark, table))


def test_the_dashboard_reads_the_same_rows(built) -> None:
    lite, spark, _ = built
    for query, params in DASHBOARD_QUERIES.items():
        read = []
        for warehouse in (SQLiteWarehouse(lite.warehouse_path), open_warehouse(spark)):
            with warehouse.transaction() as session:
                read.append(session.query(query, params))
        _same(query, *read)


def test_the_risk_model_reads_the_same_features(built) -> None:
    lite, spark, _ = built
    params = {"utc_offset_seconds": lite.rules.utc_offset_seconds}
    read = []
    for warehouse in (SQLiteWarehouse(lite.warehouse_path), open_warehouse(spark)):
        with warehouse.transaction() as session:
            read.append(
                session.query_numeric(
                    risk_model.FEATURES_SQL, params, risk_model.TEXT_COLUMNS
                )
            )
    ours, theirs = read
    numeric = [c for c in theirs.columns if c not in risk_model.TEXT_COLUMNS]
    assert (theirs[numeric].dtypes == "float64").all()
    _same("model/features", ours, theirs)


def test_gold_files_and_the_detection_report_are_byte_identical(built) -> None:
    lite, spark, _ = built
    for name in (
        "gold_anomalies_csv",
        "gold_customer_csv",
        "gold_sheets_csv",
        "gold_bairro_daily_csv",
        "detection_report_csv",
        "detection_report_md",
    ):
        mine = getattr(lite.paths, name).read_bytes()
        assert getattr(spark.paths, name).read_bytes() == mine, name


def test_the_silver_export_has_the_same_cells(built) -> None:
    """Values equal; numbers may print differently (SQLite writes 15
    significant digits, Arrow the shortest text that reads back)."""
    lite, spark, _ = built
    ours = pd.read_csv(lite.paths.silver_csv).sort_values("transaction_id")
    theirs = pd.read_csv(spark.paths.silver_csv).sort_values("transaction_id")
    pd.testing.assert_frame_equal(
        ours.reset_index(drop=True), theirs.reset_index(drop=True), rtol=RTOL
    )
    head = spark.paths.silver_csv.read_text(encoding="utf-8").splitlines()[:2]
    assert head[0].startswith("transaction_id,created_at,")
    assert '"2026-10-01T00:' in head[1] and '-03:00"' in head[1]


def test_a_delete_keeps_the_other_rows(built, tmp_path) -> None:
    """Spark's Parquet tables have no delete; the engine sets the kept rows
    aside and writes them back, and counts what went."""
    _, spark, _ = built
    with open_warehouse(spark).transaction() as session:
        session.execute(
            "create table scratch_delete using parquet as "
            "select id, cast(id % 3 as bigint) as k from range(10)",
            {},
        )
        try:
            gone = session.execute("delete from scratch_delete where k = :k", {"k": 0})
            left = session.read_table("scratch_delete").sort_values("id")
            session.execute("delete from scratch_delete where (k = 1)", {})
            rest = session.fetchall("select min(id), max(k) from scratch_delete")
            none = session.fetchall("select min(id) from scratch_delete where k > 5")
        finally:
            session.execute("drop table scratch_delete", {})
    assert gone == 4
    assert left["id"].tolist() == [1, 2, 4, 5, 7, 8]
    assert rest == [(2, 2)]
    assert none == [(None,)]


def test_a_reload_stores_no_row_twice(built) -> None:
    _, spark, loaded = built
    customers = _lite_table(built[0], "bronze_customers")
    with open_warehouse(spark).transaction() as session:
        again = session.insert_new("bronze_customers", "customer_id", customers)
        stored = session.fetchall("select count(*) from bronze_customers")[0][0]
    assert again == 0
    assert stored == loaded["bronze_customers"] > 0


def test_a_frame_goes_to_spark_in_pieces_and_each_row_once(built, monkeypatch) -> None:
    """A big frame is sent in pieces (the local server keeps each plan, the
    rows inside it): pieces of two rows, one of whose rows is stored
    already, store every other row once."""
    _, spark, _ = built
    monkeypatch.setattr(spark_warehouse, "_FRAME_PIECE_ROWS", 2)
    warehouse = open_warehouse(spark)
    with warehouse.transaction() as session:
        session.execute(
            "create table scratch_pieces using parquet as "
            "select cast(id as string) as k, id as v from range(1)",
            {},
        )
        sent: list[int] = []
        send = session.conn.session.createDataFrame

        def spy(data, *args, **kwargs):
            sent.append(len(data))
            return send(data, *args, **kwargs)

        monkeypatch.setattr(session.conn.session, "createDataFrame", spy)
        try:
            frame = pd.DataFrame({"k": [str(i) for i in range(5)], "v": range(5)})
            added = session.insert_new("scratch_pieces", "k", frame)
            stored = session.read_table("scratch_pieces").sort_values("k")
        finally:
            session.execute("drop table scratch_pieces", {})
    assert sent == [2, 2, 1]
    assert added == 4
    assert stored["k"].tolist() == ["0", "1", "2", "3", "4"]


def test_tables_go_to_the_schema_given(built) -> None:
    _, spark, _ = built
    mine = spark.model_copy(
        update={
            "engines": spark.engines.model_copy(update={"spark_schema": "ssa_scratch"})
        }
    )
    with open_warehouse(mine).transaction() as session:
        assert session.fetchall("select current_database()") == [("ssa_scratch",)]
        assert session.conn.root == mine.warehouse_path / "tables" / "ssa_scratch"


def test_tables_survive_a_new_catalog(built) -> None:
    """A new local server's catalog is empty while the table folders stay:
    its first connection registers them, and a rebuild writes over one.
    (The catalog is emptied here as a restart would, without a second JVM.)"""
    _, spark, _ = built
    warehouse = open_warehouse(spark)
    with warehouse.transaction() as session:
        before = session.fetchall("select count(*) from silver_transactions")[0][0]
        listed = session.conn.session.catalog.listTables()
        tables = [t.name for t in listed if not t.isTemporary]
        for table in tables:
            session.execute(f"drop table {table}", {})  # external: the folder stays
        assert not session.table_exists("silver_transactions")
    spark_warehouse.forget_sessions()
    with warehouse.transaction() as session:
        missing = [t for t in tables if not session.table_exists(t)]
        assert not missing
        rows = session.materialize(BY_NAME[FINAL_MODEL], sql_params(spark))
    assert rows == before > 0
    assert set(tables) >= {"bronze_transactions", "reported_labels", "gold_anomalies"}


def test_a_drop_and_its_labels_refresh_spark_as_they_do_sqlite(
    built, prefect_harness
) -> None:
    """The watched folder on Spark: a CSV drop and a labels file load through
    the same flows as on SQLite (the ingestion log, the conflict check and
    the label merge on Spark's session views), the refresh rebuilds Silver
    and Gold whole, and every Gold table and the export equal SQLite's,
    which refreshed only what the drop touched. A later report replaces a
    label on both."""
    from flows.ingest import incoming_refresh, ingest_drops
    from ssa.intake.ingest import ingest_file
    from tests.drops import sample, write

    lite, spark, _ = built
    rows = sample(60)
    marked = rows["transaction_id"].iloc[:2].tolist()
    modes = {}
    for settings in (lite, spark):
        drop = write(settings.paths.incoming_path / "next-week.csv", rows)
        loaded = asyncio.run(ingest_drops([str(drop)], settings, refresh=False))
        assert loaded["rows_loaded"] == 60
        for name, verdicts in (("med_1.csv", (1, 1)), ("med_2.csv", (0, 1))):
            labels = settings.paths.incoming_path / "labels" / name
            labels.parent.mkdir(parents=True, exist_ok=True)
            labels.write_text(
                "transaction_id,is_fraud\n"
                + "".join(f"{t},{v}\n" for t, v in zip(marked, verdicts, strict=True)),
                encoding="utf-8",
            )
            ingest_file(labels, settings, source="labels")
        modes[settings.engine] = asyncio.run(incoming_refresh(settings))["silver"][
            "mode"
        ]
    assert modes == {"sqlite": "incremental", "spark": "full"}
    for table in ("reported_labels", "ingestion_log"):
        stored = _spark_table(spark, table)
        assert len(stored) == len(_lite_table(lite, table)) > 0, table
    labels = _spark_table(spark, "reported_labels").set_index("transaction_id")
    assert labels.loc[marked, "is_fraud"].tolist() == [0, 1]
    for model in GOLD_MODELS:
        table = table_of(model)
        _same(model, _lite_table(lite, table), _spark_table(spark, table))
    assert spark.paths.gold_anomalies_csv.read_bytes() == (
        lite.paths.gold_anomalies_csv.read_bytes()
    )


def test_source_features_land_once_and_read_back_as_on_sqlite(built, tmp_path) -> None:
    """A mapped drop's declared features go to bronze_source_features on
    Spark's Parquet tables as on SQLite, once: a second file with the same
    ids and other features adds none; the model reads the same values."""
    from ssa.intake.ingest import ingest_file
    from ssa.risk import source_features
    from tests.test_source_features import MAPPING, _frame

    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "proc.yaml").write_text(MAPPING, encoding="utf-8")
    frame = _frame(4, seed=9)
    read = {}
    for base in built[:2]:
        paths = base.paths.model_copy(update={"sources_dir": sources})
        settings = base.model_copy(update={"paths": paths})
        folder = settings.paths.incoming_path / "proc"
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / "first.csv", index=False)
        assert ingest_file(folder / "first.csv", settings, source="proc").rows_loaded
        frame.assign(balance="1.00").to_csv(folder / "second.csv", index=False)
        result = ingest_file(folder / "second.csv", settings, source="proc")
        assert (result.rows_loaded, result.rows_duplicate) == (0, 4)
        with open_warehouse(settings).transaction() as session:
            got = source_features.read(session)
        read[settings.engine] = got.sort_values("transaction_id", ignore_index=True)
    assert len(read["spark"]) == 4
    assert read["spark"]["src:balance"].tolist() == [
        float(b) for b in frame.sort_values("id")["balance"]
    ]
    pd.testing.assert_frame_equal(read["spark"], read["sqlite"], check_dtype=False)


def test_skipped_rows_are_logged_as_on_sqlite(built) -> None:
    """A mapping's skipped rows are counted in Spark's ingestion_log as in
    SQLite's, and the dashboard's arrivals read them alike."""
    from ssa.intake.ingest import ingest_file

    example = REPO_ROOT / "sources" / "examples" / "paysim_example.csv"
    shown = ["file_name", "status", "rows_loaded", "rows_rejected", "rows_skipped"]
    read = []
    for settings in built[:2]:
        folder = settings.paths.incoming_path / "paysim"
        folder.mkdir(parents=True, exist_ok=True)
        path = Path(shutil.copy(example, folder / example.name))
        result = ingest_file(path, settings, source="paysim")
        assert (result.rows_loaded, result.rows_skipped) == (48, 12), result.detail
        with open_warehouse(settings).transaction() as session:
            arrivals = session.query("gold/dashboard_arrivals.sql", {"arrival_rows": 1})
        read.append(arrivals[shown])
    _same("gold/dashboard_arrivals.sql", *read)


def test_an_earlier_ingestion_log_gains_source_on_spark(built) -> None:
    """A Spark log made before ``source`` (its table and Parquet files
    without the column) gains it in place; its rows read as unknown, and a
    new row keeps the source it was written with."""
    from ssa.intake import ingest_log

    _, spark, _ = built
    mine = spark.model_copy(
        update={
            "engines": spark.engines.model_copy(
                update={"spark_schema": "ssa_earlier_log"}
            )
        }
    )
    columns = spark_warehouse._bronze_tables()["ingestion_log"]
    earlier = [c for c in columns if c[0] != "source"]
    assert len(earlier) == len(columns) - 1
    row = {
        "log_seq": 1,
        "file_name": "earlier.csv",
        "file_sha256": "aa",
        "file_bytes": 10,
        "status": "loaded",
        "rows_read": 3,
        "rows_loaded": 3,
        "rows_rejected": 0,
        "rows_duplicate": 0,
        "rows_skipped": 0,
        "batch_id": "file-aa",
        "started_at": "2026-10-01T00:00:00.000+00:00",
        "finished_at": "2026-10-01T00:00:01.000+00:00",
    }
    with open_warehouse(mine).transaction() as session:
        spark_warehouse._create_bronze(session.conn, "ingestion_log", earlier)
        session.execute(
            f"insert into ingestion_log ({', '.join(row)}) "
            f"values ({', '.join(':' + c for c in row)})",
            row,
        )
        assert "source" not in session.read_table("ingestion_log").columns
        session.apply_schema()
        ingest_log.append(
            session,
            {**row, "file_name": "new.csv", "file_sha256": "bb", "source": "paysim"},
        )
        assert "source" in session.read_table("ingestion_log").columns
        files = ingest_log.files_between(session, 0, 2)
        arrivals = session.query("gold/dashboard_arrivals.sql", {"arrival_rows": 5})
    assert [(f["file_name"], f["source"]) for f in files] == [
        ("earlier.csv", "unknown"),
        ("new.csv", "paysim"),
    ]
    assert arrivals["source"].iloc[0] == "paysim"
    assert pd.isna(arrivals["source"].iloc[1])  # the page says unknown


def test_a_session_catches_up_with_another_writer(built) -> None:
    """Each process has a local server of its own; a server lists a Parquet
    table's files once. A session that another one (another process's, as
    a medallion run beside a long-lived worker) wrote after catches up on
    its next transaction; without that it reads the old files."""
    _, spark, _ = built
    warehouse = open_warehouse(spark)
    with warehouse.transaction() as session:
        session.execute(
            "create table scratch_mark using parquet as select id from range(3)", {}
        )
        reader = session.conn
        assert reader.sql("select count(*) from scratch_mark").collect()[0][0] == 3
    spark_warehouse.forget_sessions()
    try:
        with warehouse.transaction() as session:
            assert session.conn is not reader
            session.execute("insert into scratch_mark select id from range(3, 5)", {})
        stale = reader.sql("select count(*) from scratch_mark").collect()[0][0]
        reader.catch_up()
        fresh = reader.sql("select count(*) from scratch_mark").collect()[0][0]
    finally:
        with warehouse.transaction() as session:
            session.execute("drop table scratch_mark", {})
    assert (stale, fresh) == (3, 5)


def test_a_cluster_session_catches_up_with_another_writer(built) -> None:
    """On a cluster every client is a session of one server, and a session
    also reads a table's files as it first listed them: after another
    session's transaction wrote, the next transaction of this one catches
    up (the mark is a table property the catalog reads fresh)."""
    (server,) = spark_server._shared.values()
    reader = spark_warehouse._open(server.remote, None, None)
    writer = spark_warehouse._open(server.remote, None, None)
    spark_warehouse._retired.extend([reader, writer])  # see forget_sessions

    def count() -> int:
        return reader.sql("select count(*) from scratch_cluster").collect()[0][0]

    try:
        writer.sql(
            "create table scratch_cluster using parquet as select id from range(3)"
        )
        writer.finish()
        reader.catch_up()
        before = count()
        writer.sql("insert into scratch_cluster select id from range(3, 5)")
        stale_until_finished = (count(), reader.mark() == reader.seen)
        writer.finish()
        stale = count()
        reader.catch_up()
        fresh = count()
    finally:
        writer.sql("drop table if exists scratch_cluster")
        writer.finish()
    assert before == 3
    assert stale_until_finished == (3, True)
    assert (stale, fresh) == (3, 5)


def test_stopping_the_server_ends_its_jvm(built) -> None:
    (server,) = spark_server._shared.values()
    assert server.process is not None
    pid = server.process.pid
    spark_server.stop_shared()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_query_on_a_server_that_died_fails_at_once(built) -> None:
    """The client's own policy retries an unreachable server for ten
    minutes; a local server that exited will not come back, so the next
    statement of the transaction fails with the server's exit and its log
    (the following transaction starts a new server)."""
    _, spark, _ = built
    warehouse = open_warehouse(spark)
    outcome: dict[str, BaseException] = {}
    with warehouse.transaction() as session:
        assert session.fetchall("select count(*) from bronze_transactions")[0][0] > 0
        (server,) = spark_server._shared.values()
        log = server.log_path
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)

        def query() -> None:
            try:
                session.fetchall("select count(*) from bronze_transactions")
            except BaseException as exc:  # judged below
                outcome["error"] = exc

        thread = threading.Thread(target=query, daemon=True)
        thread.start()
        thread.join(timeout=120)
    assert not thread.is_alive(), "the query still waits on a server that died"
    error = outcome.get("error")
    assert isinstance(error, WarehouseError), error
    assert "exited with code -9" in str(error)
    assert str(log) in str(error)
    spark_server.stop_shared()


def test_a_server_out_of_heap_says_which_setting_to_raise(tmp_path) -> None:
    local = SparkLocalSettings(driver_memory="1g")
    server = spark_server.LocalSparkServer(tmp_path, **local.model_dump())
    assert server.exited() is None
    server.log_path.write_text(
        "INFO starting\njava.lang.OutOfMemoryError: Java heap space\n"
        "Terminating due to java.lang.OutOfMemoryError: Java heap space\n"
    )
    server.process = subprocess.Popen(["sh", "-c", "exit 3"])
    server.process.wait()
    reason = server.exited()
    assert reason is not None
    assert "exited with code 3 after running out of its 1g heap" in reason
    assert "engines.spark_local.driver_memory" in reason
    assert "Terminating due to" in reason
    server.process = None
