"""The warehouse's record of every drop handled and every refresh run.

``ingestion_log`` is written in the same transaction as a file's Bronze rows:
it is how the same content is recognised when dropped again, and how a
restarted watcher knows which loads Silver and Gold have not seen yet
(``ingestion_refresh``). Functions take an open connection so the caller
decides the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssa.engines import Session
from ssa.engines.base import sql_text, statements

# ``ingestion_log.source``: the system a file came from. A mapped drop's is
# its mapping's name (``sources/<name>.yaml``), a reported-fraud file's
# ``labels`` or ``<name>/labels``; a drop in the input contract has no
# mapping, and says so. A row logged before the column existed has NULL
# there: which folder its file came from was not recorded, and a guess
# would pass for a fact.
NATIVE_SOURCE = "native"
UNKNOWN_SOURCE = "unknown"
# Bronze's rows of the synthetic month come from no file, so from no log
# row; the dashboard names their system so.
GENERATOR_SOURCE = "generator"
# Bronze's ``source``, a row's lineage: ``file:<folder>/<file>`` for a
# mapped drop, ``file:<file>`` for one in the input contract (``ingest``),
# ``generator:seed=42`` for the synthetic month (tasks/bronze.py; the SQL
# that replaces that month matches the same prefix).
FILE_LINEAGE = "file:"
GENERATOR_LINEAGE = "generator:"

LOG_COLUMNS = (
    "log_seq",
    "file_name",
    "source",
    "file_sha256",
    "file_bytes",
    "status",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rows_duplicate",
    "rows_skipped",
    "batch_id",
    "delimiter",
    "missing_columns",
    "detail",
    "archived_to",
    "rejected_to",
    "started_at",
    "finished_at",
)


@dataclass(frozen=True)
class PendingRefresh:
    """Loaded files Silver/Gold do not reflect yet: log_seq in (after, up_to]."""

    after_log_seq: int
    up_to_log_seq: int
    files: tuple[str, ...]
    rows_loaded: int


def find_loaded(session: Session, sha256: str) -> dict[str, Any] | None:
    """The log row of the load of this content, if it was ever loaded."""
    rows = session.fetchall(
        sql_text("bronze/ingestion_log_find_loaded.sql"), {"file_sha256": sha256}
    )
    return _entry(rows[0]) if rows else None


def append(session: Session, entry: dict[str, Any]) -> int:
    """Add one log row; its sequence number is the next in commit order.

    The caller holds the write lock (``begin immediate``), so max + 1 cannot
    race with another writer. A column the entry leaves out is NULL.
    """
    next_seq, insert = statements(sql_text("bronze/ingestion_log_append.sql"))
    seq = session.fetchall(next_seq)[0][0]
    row = {**entry, "log_seq": seq}
    session.execute(insert, {c: row.get(c) for c in LOG_COLUMNS})
    return seq


def pending_refresh(
    session: Session, handed_off_log_seq: int = 0
) -> PendingRefresh | None:
    """What the next Silver/Gold refresh must take in, or None if up to date."""
    if not session.table_exists("ingestion_log"):
        return None
    files = session.query(
        "bronze/ingestion_log_pending.sql",
        {"handed_off_log_seq": handed_off_log_seq},
    )
    if files.empty:
        return None
    return PendingRefresh(
        after_log_seq=max(
            handed_off_log_seq, int(files["refreshed_up_to_log_seq"].iloc[0])
        ),
        up_to_log_seq=int(files["log_seq"].max()),
        files=tuple(files["file_name"]),
        rows_loaded=int(files["rows_loaded"].sum()),
    )


def touched_customers(
    session: Session, after_log_seq: int, up_to_log_seq: int
) -> list[str]:
    """Customers with rows in the files loaded in (after, up_to]."""
    frame = session.query(
        "bronze/ingestion_log_touched_customers.sql",
        {"after_log_seq": after_log_seq, "up_to_log_seq": up_to_log_seq},
    )
    return frame["customer_id"].tolist()


def files_between(
    session: Session, after_log_seq: int, up_to_log_seq: int
) -> list[dict[str, Any]]:
    """Log rows in (after, up_to], for the run's artifact."""
    rows = session.fetchall(
        sql_text("bronze/ingestion_log_between.sql"),
        {"after_log_seq": after_log_seq, "up_to_log_seq": up_to_log_seq},
    )
    return [_entry(row) for row in rows]


def logged_source(source: str | None) -> str:
    """What ``ingestion_log.source`` says of a file ingested with this
    routing tag (``ingest_file``'s ``source``; None: the input contract)."""
    return source or NATIVE_SOURCE


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    """A log row by column name. A Spark log made before rows_skipped has no
    value there (its Parquet files lack the column): none were skipped. A
    row logged before ``source`` existed has none either: unknown."""
    entry = dict(zip(LOG_COLUMNS, row, strict=True))
    entry["rows_skipped"] = entry["rows_skipped"] or 0
    entry["source"] = entry["source"] or UNKNOWN_SOURCE
    return entry


def record_refresh(
    session: Session,
    after_log_seq: int,
    up_to_log_seq: int,
    customers: int,
    started_at: str,
    finished_at: str,
) -> None:
    """Silver and Gold now reflect every load up to up_to_log_seq."""
    taken_in, insert = statements(sql_text("bronze/ingestion_refresh_record.sql"))
    span = {"after_log_seq": after_log_seq, "up_to_log_seq": up_to_log_seq}
    seq, files, rows = session.fetchall(taken_in, span)[0]
    session.execute(
        insert,
        {
            "refresh_seq": seq,
            **span,
            "files": files,
            "rows_loaded": rows,
            "customers": customers,
            "started_at": started_at,
            "finished_at": finished_at,
        },
    )


def lineage_source(lineage: str) -> str:
    """The system a Bronze row came from, read from its lineage, in the words
    of ``ingestion_log.source``: the mapping's name, ``native``, or
    ``generator`` for the synthetic month; a lineage of another shape is
    its own name."""
    if lineage.startswith(GENERATOR_LINEAGE):
        return GENERATOR_SOURCE
    if lineage.startswith(FILE_LINEAGE):
        folder, sep, _ = lineage.removeprefix(FILE_LINEAGE).partition("/")
        return folder if sep else NATIVE_SOURCE
    return lineage
