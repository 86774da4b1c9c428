"""The warehouse's WAL handling: commits do not checkpoint, a refresh does."""

from __future__ import annotations

from ssa.engines.sqlite_warehouse import SQLiteWarehouse


def test_commits_leave_the_wal_to_the_checkpoint(tmp_path) -> None:
    path = tmp_path / "w.db"
    warehouse = SQLiteWarehouse(path)
    with warehouse.transaction() as session:
        session.execute("create table t (x bigint, pad varchar(32))")
    with warehouse.keep_open():  # as the watcher does
        with warehouse.transaction() as conn:
            # More than SQLite's default 1,000-page autocheckpoint.
            conn.executemany(
                "insert into t values (?, ?)", ((i, "x" * 30) for i in range(200_000))
            )
        wal = path.with_name("w.db-wal")
        assert wal.stat().st_size > 0  # closing did not fold it in
        done = warehouse.checkpoint()
        assert done["busy"] == 0
        assert done["wal_pages"] > 1_000
        assert done["copied"] == done["wal_pages"]
    with warehouse.transaction() as session:
        assert session.fetchall("select count(*) from t")[0][0] == 200_000
