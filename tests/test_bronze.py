"""Bronze loads: idempotent for the same batch, one synthetic world at a time."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ssa.engines import WarehouseError, base, open_warehouse, sqlite_warehouse
from ssa.generator import generate, generate_chunks
from ssa.intake import ingest_log
from ssa.intake.ingest import ingest_file
from ssa.settings import REPO_ROOT, Settings
from tasks.bronze import _load, batch_id_for
from tests.rows import tx

ENGINES = pytest.mark.parametrize("engine_name", ["sqlite", "duckdb"])


def _settings(tmp_path, seed: int = 1, engine_name: str = "sqlite") -> Settings:
    return Settings(
        engine=engine_name,
        paths={"data_dir": tmp_path},
        generator={"n_customers": 60, "n_merchants": 20, "days": 3, "seed": seed},
    )


def _memory() -> sqlite_warehouse.SQLiteSession:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    return sqlite_warehouse.SQLiteSession(conn, Path(":memory:"))


def _count(settings: Settings, sql: str) -> int:
    with open_warehouse(settings).transaction() as session:
        return session.fetchall(sql)[0][0]


@ENGINES
def test_loading_the_same_batch_twice_adds_nothing(tmp_path, engine_name) -> None:
    settings = _settings(tmp_path, engine_name=engine_name)
    data = generate(settings)
    first = _load(data, settings)
    second = _load(data, settings)
    assert first["bronze_transactions"] == len(data.transactions) > 0
    assert second["bronze_transactions"] == second["ground_truth_labels"] == 0
    assert second["replaced_transactions"] == 0
    total = _count(settings, "select count(*) from bronze_transactions")
    assert total == len(data.transactions)


@ENGINES
def test_another_synthetic_batch_replaces_the_previous_one(
    tmp_path, engine_name
) -> None:
    one = _settings(tmp_path, seed=1, engine_name=engine_name)
    two = _settings(tmp_path, seed=2, engine_name=engine_name)
    first = generate(one)
    _load(first, one)
    dropped = pd.DataFrame([tx("from-a-csv", 1_790_900_000, source="file:a.csv")])
    with open_warehouse(one).transaction() as session:
        session.insert_new("bronze_transactions", "transaction_id", dropped)
    data = generate(two)
    result = _load(data, two)
    assert result["replaced_transactions"] == len(first.transactions)
    sources = _count(two, "select count(distinct source) from bronze_transactions")
    assert sources == 2  # generator:seed=2 and the CSV row
    assert _count(two, "select count(*) from bronze_transactions") == (
        len(data.transactions) + 1
    )
    assert _count(two, "select count(*) from ground_truth_labels") == len(data.labels)
    assert _count(two, "select count(*) from bronze_customers") == len(data.customers)


def test_a_bulk_load_rebuilds_the_indexes_it_set_aside(monkeypatch) -> None:
    monkeypatch.setattr(sqlite_warehouse, "BULK_LOAD_ROWS", 2)
    session = _memory()
    conn = session.conn
    session.apply_schema()
    listing = (
        "select name, sql from sqlite_master where type = 'index' "
        "and tbl_name = 'bronze_transactions' order by name"
    )
    before = conn.execute(listing).fetchall()
    rows = pd.DataFrame([tx("a", 1), tx("b", 2), tx("c", 3)])
    assert session.insert_new("bronze_transactions", "transaction_id", rows) == 3
    assert conn.execute(listing).fetchall() == before
    assert len(before) >= 4
    # The primary key still skips known ids in a bulk load.
    more = pd.DataFrame([tx("a", 1), tx("d", 4), tx("e", 5)])
    assert session.insert_new("bronze_transactions", "transaction_id", more) == 2


def test_an_earlier_warehouse_gets_the_nullable_columns_rows_kept() -> None:
    session = _memory()
    conn = session.conn
    schema = base.sql_text("bronze/schema.sql")
    schema = _old_schema()
    for statement in base.statements(schema):
        conn.execute(statement)
    frame = pd.DataFrame([tx("a", 1), tx("b", 2)])
    session.insert_new("bronze_transactions", "transaction_id", frame)

    session.apply_schema()

    columns = conn.execute("pragma table_info(bronze_transactions)").fetchall()
    assert {c[1]: c[3] for c in columns}["payer_type"] == 0
    assert {c[1]: c[3] for c in columns}["auth_status"] == 0
    assert {c[1]: c[3] for c in columns}["customer_id"] == 0
    rows = conn.execute("select transaction_id from bronze_transactions").fetchall()
    assert sorted(rows) == [("a",), ("b",)]
    indexes = conn.execute(
        "select count(*) from sqlite_master where type = 'index' "
        "and tbl_name = 'bronze_transactions' and sql is not null"
    ).fetchone()[0]
    assert indexes >= 4
    assert not session.table_exists("bronze_transactions_outdated")
    session.insert_new(
        "bronze_transactions",
        "transaction_id",
        pd.DataFrame([tx("c", 3, payer_type=None, auth_status=None, customer_id=None)]),
    )


def _old_schema() -> str:
    """Bronze as earlier versions declared it: columns NOT NULL that a drop
    may now leave empty (customer_id: a source that names no customer)."""
    schema = base.sql_text("bronze/schema.sql")
    for column in (
        "payer_type varchar(2)",
        "auth_status varchar(16)",
        "customer_id varchar(32)",
    ):
        assert f"{column}," in schema, column
        schema = schema.replace(f"{column},", f"{column} not null,", 1)
    return schema


def test_an_earlier_duckdb_warehouse_takes_rows_with_no_customer(tmp_path) -> None:
    from ssa.engines.duckdb_warehouse import DuckDBWarehouse, bronze_ddl

    warehouse = DuckDBWarehouse(tmp_path / "old.duckdb")
    with warehouse.transaction() as session:
        for statement in bronze_ddl(base.statements(_old_schema())):
            session.execute(statement)
        session.apply_schema()
        added = session.insert_new(
            "bronze_transactions",
            "transaction_id",
            pd.DataFrame([tx("a", 1, customer_id=None)]),
        )
    assert added == 1


@ENGINES
def test_a_month_in_chunks_loads_in_one_transaction(tmp_path, engine_name) -> None:
    """Chunk by chunk as they are made, and all or nothing: a chunk that
    fails leaves none of the month in Bronze."""
    settings = _settings(tmp_path, engine_name=engine_name).model_copy(
        update={
            "generator": Settings().generator.model_copy(
                update={
                    "n_customers": 250,
                    "n_merchants": 20,
                    "days": 3,
                    "chunk_customers": 100,
                }
            )
        }
    )
    month = generate(settings)
    loaded = _load(generate_chunks(settings), settings)
    assert loaded["bronze_transactions"] == len(month.transactions)
    assert loaded["bronze_customers"] == 250
    assert loaded["bronze_merchants"] == 20
    assert loaded["ground_truth_labels"] == len(month.labels)
    assert _count(settings, "select count(*) from bronze_transactions") == len(
        month.transactions
    )

    other = settings.model_copy(
        update={"generator": settings.generator.model_copy(update={"seed": 9})}
    )

    def failing():
        chunks = generate_chunks(other)
        yield next(chunks)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        _load(failing(), other)
    assert _count(settings, "select count(*) from bronze_transactions") == len(
        month.transactions
    )


def test_the_chunk_size_names_the_batch_only_where_it_splits_the_month() -> None:
    month = Settings(generator={"n_customers": 300})
    bigger = Settings(generator={"n_customers": 300, "chunk_customers": 5_000})
    assert batch_id_for(month) == batch_id_for(bigger)
    split = Settings(generator={"n_customers": 300, "chunk_customers": 100})
    split_other = Settings(generator={"n_customers": 300, "chunk_customers": 150})
    assert batch_id_for(split) != batch_id_for(split_other)


def test_duckdb_keeps_bronze_unique_without_index_upkeep(tmp_path) -> None:
    """DuckDB's Bronze has no ART key or index to update on every insert;
    the loader keeps each id once, and an earlier warehouse's secondary
    indexes are dropped (its key stays)."""
    settings = _settings(tmp_path, engine_name="duckdb")
    older = tmp_path / "older.duckdb"
    with duckdb.connect(str(older)) as conn:
        for statement in sqlite_warehouse.schema_statements():
            conn.execute(statement)
    indexes = "select count(*) from duckdb_indexes() where table_name = ?"
    keys = (
        "select count(*) from duckdb_constraints() "
        "where table_name = ? and constraint_type = 'PRIMARY KEY'"
    )
    warehouse = open_warehouse(settings)
    with warehouse.transaction() as session:
        session.apply_schema()
        rows = pd.DataFrame([tx("a", 1), tx("b", 2)])
        assert session.insert_new("bronze_transactions", "transaction_id", rows) == 2
        again = pd.DataFrame([tx("b", 2), tx("c", 3)])
        assert session.insert_new("bronze_transactions", "transaction_id", again) == 1
        with pytest.raises(base.WarehouseError, match="repeated inside one batch"):
            session.insert_new(
                "bronze_transactions", "transaction_id", pd.DataFrame([tx("d", 4)] * 2)
            )
        assert session.fetchall(indexes, ["bronze_transactions"])[0][0] == 0
        assert session.fetchall(keys, ["bronze_transactions"])[0][0] == 0
        assert session.fetchall(keys, ["ingestion_log"])[0][0] == 1
        stored = session.fetchall(
            "select transaction_id, count(*) from bronze_transactions "
            "group by transaction_id order by 1"
        )
    assert stored == [("a", 1), ("b", 1), ("c", 1)]
    earlier = type(warehouse)(older)
    with earlier.transaction() as session:
        assert session.fetchall(indexes, ["bronze_transactions"])[0][0] >= 4
        session.apply_schema()
        assert session.fetchall(indexes, ["bronze_transactions"])[0][0] == 0
        assert session.fetchall(keys, ["bronze_transactions"])[0][0] == 1


# The ingestion log as warehouses made before rows_skipped have it.
EARLIER_INGESTION_LOG = """
create table ingestion_log (
    log_seq bigint not null primary key,
    file_name varchar(256) not null,
    file_sha256 varchar(64) not null,
    file_bytes bigint not null,
    status varchar(16) not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_rejected bigint not null,
    rows_duplicate bigint not null,
    batch_id varchar(64) not null,
    delimiter varchar(1),
    missing_columns varchar(512),
    detail varchar(2048),
    archived_to varchar(1024),
    rejected_to varchar(1024),
    started_at varchar(32) not null,
    finished_at varchar(32) not null,
    check (rows_read = rows_loaded + rows_rejected + rows_duplicate)
);
create index ingestion_log_sha256 on ingestion_log (file_sha256);
insert into ingestion_log values (
    1, 'earlier.csv', 'aa', 10, 'loaded', 6, 3, 2, 1, 'file-aa', ',',
    null, null, null, null, '2026-10-01T00:00:00', '2026-10-01T00:00:01'
);
"""
LOG_ROW = (
    "insert into ingestion_log (log_seq, file_name, file_sha256, file_bytes, "
    "status, rows_read, rows_loaded, rows_rejected, rows_duplicate, "
    "rows_skipped, batch_id, started_at, finished_at) "
    "values (?, 'x.csv', 'bb', 1, 'loaded', ?, ?, 0, 0, ?, 'file-bb', 't', 't')"
)


def _earlier_warehouse(settings: Settings) -> None:
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    if settings.engine == "duckdb":
        with duckdb.connect(str(path)) as conn:
            conn.execute(EARLIER_INGESTION_LOG)
    else:
        with closing(sqlite3.connect(path)) as conn:
            conn.executescript(EARLIER_INGESTION_LOG)


@ENGINES
def test_an_earlier_ingestion_log_gets_rows_skipped_rows_kept(
    tmp_path, engine_name
) -> None:
    """A warehouse made before skipped rows were counted keeps working: its
    log gains rows_skipped (0 for its files) and the accounting check that
    reads it, with its rows and its index, the first time a drop comes."""
    settings = _settings(tmp_path, engine_name=engine_name)
    _earlier_warehouse(settings)
    incoming = settings.paths.incoming_path / "paysim"
    incoming.mkdir(parents=True)
    example = REPO_ROOT / "sources" / "examples" / "paysim_example.csv"
    path = Path(shutil.copy(example, incoming / example.name))

    result = ingest_file(path, settings, source="paysim")

    assert (result.rows_loaded, result.rows_skipped) == (48, 12), result.detail
    with open_warehouse(settings).transaction() as session:
        logged = session.fetchall(
            "select log_seq, rows_read, rows_loaded, rows_rejected, "
            "rows_duplicate, rows_skipped from ingestion_log order by log_seq"
        )
        assert [tuple(r) for r in logged] == [
            (1, 6, 3, 2, 1, 0),
            (2, 60, 48, 0, 0, 12),
        ]
        assert not session.table_exists("ingestion_log_outdated")
        assert ingest_log.find_loaded(session, "aa")["file_name"] == "earlier.csv"
        with pytest.raises(WarehouseError, match="CHECK constraint failed"):
            session.execute(LOG_ROW, (3, 10, 8, 1))  # 8 + 1 is not 10
    if engine_name == "sqlite":
        with closing(sqlite3.connect(settings.warehouse_path)) as conn:
            indexes = conn.execute(
                "select name from sqlite_master where type = 'index' "
                "and tbl_name = 'ingestion_log' and sql is not null"
            ).fetchall()
        assert indexes == [("ingestion_log_sha256",)]


@ENGINES
def test_the_ingestion_log_checks_the_accounting_with_skipped_rows(
    tmp_path, engine_name
) -> None:
    settings = _settings(tmp_path, engine_name=engine_name)
    with open_warehouse(settings).transaction() as session:
        session.apply_schema()
        session.execute(LOG_ROW, (1, 10, 8, 2))
    refused = pytest.raises(WarehouseError, match="CHECK constraint failed")
    with refused, open_warehouse(settings).transaction() as session:
        session.execute(LOG_ROW, (2, 10, 10, 2))  # 10 + 2 is not 10
    with open_warehouse(settings).transaction() as session:
        assert session.fetchall("select count(*) from ingestion_log")[0][0] == 1


def _log_before_source() -> str:
    """The ingestion log's DDL as it was before ``source``: today's file
    without that column, its rows_skipped and its checks as they were."""
    ddl = base.sql_text("bronze/ingestion_log.sql")
    start = ddl.index("    -- The system the file came from")
    end = ddl.index("    source varchar(256),\n") + len("    source varchar(256),\n")
    old = ddl[:start] + ddl[end:]
    assert "source varchar" not in old
    return old


@ENGINES
def test_an_earlier_ingestion_log_gains_source_its_files_unknown(
    tmp_path, engine_name
) -> None:
    """A warehouse made before the log named each file's source keeps
    working: the next drop adds the column in place, the earlier files read
    as unknown (nothing recorded which folder they came from), the new one
    as its mapping, and the dashboard's list of arrivals says both."""
    from ssa.report.dashboard.data import arrival_table

    settings = _settings(tmp_path, engine_name=engine_name)
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    earlier = (
        "insert into ingestion_log (log_seq, file_name, file_sha256, file_bytes, "
        "status, rows_read, rows_loaded, rows_rejected, rows_duplicate, "
        "rows_skipped, batch_id, started_at, finished_at) values (1, "
        "'earlier.csv', 'aa', 10, 'loaded', 3, 3, 0, 0, 0, 'file-aa', "
        "'2026-10-01T00:00:00.000+00:00', '2026-10-01T00:00:01.000+00:00')"
    )
    if engine_name == "duckdb":
        with duckdb.connect(str(path)) as conn:
            conn.execute(_log_before_source())
            conn.execute(earlier)
    else:
        with closing(sqlite3.connect(path)) as conn:
            conn.executescript(_log_before_source())
            conn.execute(earlier)
            conn.commit()
    with open_warehouse(settings).transaction() as session:
        assert "source" not in session.columns("ingestion_log")
    incoming = settings.paths.incoming_path / "paysim"
    incoming.mkdir(parents=True)
    example = REPO_ROOT / "sources" / "examples" / "paysim_example.csv"
    dropped = Path(shutil.copy(example, incoming / example.name))

    result = ingest_file(dropped, settings, source="paysim")

    assert (result.status, result.source) == ("loaded", "paysim")
    assert result.summary().endswith(")") and " source=paysim (" in result.summary()
    with open_warehouse(settings).transaction() as session:
        assert session.columns("ingestion_log").count("source") == 1
        stored = session.fetchall(
            "select log_seq, source from ingestion_log order by log_seq"
        )
        assert [tuple(r) for r in stored] == [(1, None), (2, "paysim")]
        assert ingest_log.find_loaded(session, "aa")["source"] == "unknown"
        files = ingest_log.files_between(session, 0, 2)
        arrivals = session.query("gold/dashboard_arrivals.sql", {"arrival_rows": 5})
    assert [f["source"] for f in files] == ["unknown", "paysim"]
    shown = arrival_table(arrivals, settings.rules.utc_offset_seconds)
    assert shown["Origem"].tolist() == [
        "paysim",
        "desconhecida (registro anterior à coluna)",
    ]


@ENGINES
def test_the_log_names_each_files_source(tmp_path, engine_name) -> None:
    """Native, mapped, reported-fraud, duplicate and quarantined files: each
    logged with the system it came from."""
    from tests.drops import sample, write

    settings = _settings(tmp_path, engine_name=engine_name)
    incoming = settings.paths.incoming_path
    native = write(incoming / "lote.csv", sample(20))
    again = write(incoming / "lote-de-novo.csv", sample(20))
    labels = incoming / "labels" / "rotulos.csv"
    labels.parent.mkdir(parents=True)
    first_id = sample(20)["transaction_id"].iloc[0]
    labels.write_text(f"transaction_id,is_fraud\n{first_id},1\n", encoding="utf-8")
    example = REPO_ROOT / "sources" / "examples" / "paysim_example.csv"
    (incoming / "paysim").mkdir()
    mapped = Path(shutil.copy(example, incoming / "paysim" / example.name))
    wrong = Path(shutil.copy(native, incoming / "paysim" / "nativo.csv"))

    results = [
        ingest_file(native, settings),
        ingest_file(again, settings),
        ingest_file(labels, settings, source="labels"),
        ingest_file(mapped, settings, source="paysim"),
        ingest_file(wrong, settings, source="paysim"),
    ]

    assert [(r.status, r.source) for r in results] == [
        ("loaded", "native"),
        ("duplicate_file", "native"),
        ("loaded", "labels"),
        ("loaded", "paysim"),
        ("quarantined", "paysim"),
    ]
    with open_warehouse(settings).transaction() as session:
        logged = session.fetchall(
            "select file_name, source from ingestion_log order by log_seq"
        )
    assert [tuple(r) for r in logged] == [(r.file_name, r.source) for r in results]
