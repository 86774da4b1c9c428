"""The warehouse's WAL handling: commits do not checkpoint, a refresh does."""

from __future__ import annotations

from ssa import warehouse


def test_commits_leave_the_wal_to_the_checkpoint(tmp_path) -> None:
    path = tmp_path / "w.db"
    with warehouse.connect(path) as conn:
        conn.execute("create table t (x bigint, pad varchar(32))")
    held = warehouse.hold_open(path)  # as the watcher does
    try:
        with warehouse.connect(path) as conn:
            # More than SQLite's default 1,000-page autocheckpoint.
            conn.executemany(
                "insert into t values (?, ?)", ((i, "x" * 30) for i in range(200_000))
            )
        wal = path.with_name("w.db-wal")
        assert wal.stat().st_size > 0  # closing did not fold it in
        busy, pages, copied = warehouse.checkpoint(path)
        assert busy == 0
        assert pages > 1_000
        assert copied == pages
    finally:
        held.close()
    with warehouse.connect(path) as conn:
        assert conn.execute("select count(*) from t").fetchone()[0] == 200_000
