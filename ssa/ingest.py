"""Ingest one raw CSV drop into Bronze, exactly once.

Order of work, and why it survives ``kill -9`` at any point:

1. Read the bytes and hash them; read and validate (pure, no lock held).
2. One SQLite transaction: if this content was loaded before, log a
   duplicate; otherwise insert the good rows (ids already in Bronze are
   skipped and counted) and the log row. Commit. Killed before the commit,
   nothing is left and the file is still in the folder; killed after it, the
   log says the file is in.
3. Write ``<file>.rejected.csv`` and move the file to ``processed/<day>/``
   (or, for a file-level error, to ``quarantine/`` with ``.error.txt``). The
   paths are chosen before the commit and recorded in the log, so a watcher
   killed between 2 and 3 finishes the moves when it sees the file again.

Accounting for every file: rows_read = rows_loaded + rows_rejected +
rows_duplicate (a check constraint on ``ingestion_log`` enforces it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ssa import conflicts as conflicts_mod
from ssa import ingest_log, warehouse
from ssa.drop_file import DropFileError, read_drop
from ssa.settings import Settings
from ssa.validation import BairroIndex, Validated, bairro_index, validate

logger = logging.getLogger("ssa.ingest")

Status = Literal["loaded", "duplicate_file", "quarantined"]


@dataclass(frozen=True)
class IngestResult:
    """What happened to one file; the same figures as its ingestion_log row."""

    file_name: str
    sha256: str
    status: Status
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_duplicate: int
    batch_id: str
    archived_to: str | None
    rejected_to: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.file_name}: {self.status}, read={self.rows_read} "
            f"loaded={self.rows_loaded} rejected={self.rows_rejected} "
            f"duplicates={self.rows_duplicate}"
            + (f" ({self.detail})" if self.detail else "")
        )


def batch_id_for(sha256: str) -> str:
    """Bronze batch id of a file: its content, not its name."""
    return "file-" + sha256[:16]


def ingest_file(
    path: Path,
    settings: Settings,
    *,
    bairros: BairroIndex | None = None,
    before_commit: Callable[[], None] | None = None,
) -> IngestResult:
    """Validate, load and file away one drop; raises only on I/O trouble.

    ``before_commit`` runs inside the transaction after every row is written
    and before the commit: tests use it to kill the process at the worst
    moment.
    """
    started = _utc_now()
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    reference = settings.paths.resolve(settings.paths.bairros_csv)
    bairros = bairros or bairro_index(reference)
    try:
        drop = read_drop(data)
    except DropFileError as error:
        return _quarantine(path, settings, data, sha256, error, started)
    checked = validate(
        drop,
        bairros,
        settings.rules.utc_offset_seconds,
        limits=settings.limits,
        region=settings.region,
    )
    return _load(
        path, settings, data, sha256, drop.delimiter, checked, started, before_commit
    )


def _load(
    path: Path,
    settings: Settings,
    data: bytes,
    sha256: str,
    delimiter: str,
    checked: Validated,
    started: datetime,
    before_commit: Callable[[], None] | None,
) -> IngestResult:
    paths = settings.paths
    processed = paths.processed_path / _local_now(settings).date().isoformat()
    found: pd.DataFrame | None = None  # a conflict's two versions
    with warehouse.connect(paths.warehouse_path) as conn:
        ingest_log.apply_schema(conn)
        earlier = ingest_log.find_loaded(conn, sha256)
        if earlier is not None and _interrupted(path, earlier):
            result = _resumed(earlier)
            if result.rows_rejected > len(checked.rejected):
                found = conflicts_mod.find_conflicts(
                    conn, *_conflict_args(path, sha256, checked)
                )
        elif earlier is not None:
            result = _duplicate(path, sha256, earlier, processed)
            ingest_log.append(conn, _log_row(result, len(data), started, None, ()))
        else:
            result, found = _insert(
                conn, path, sha256, checked, started, processed, paths.quarantine_path
            )
            ingest_log.append(
                conn,
                _log_row(
                    result, len(data), started, delimiter, checked.missing_optional
                ),
            )
            if before_commit is not None:
                before_commit()
    rejected_to = Path(result.rejected_to) if result.rejected_to else None
    if rejected_to is not None:
        if len(checked.rejected) and not rejected_to.exists():
            write_rejected(checked.rejected, rejected_to, delimiter)
        conflicts_to = conflicts_mod.conflicts_path(rejected_to)
        if found is not None and len(found) and not conflicts_to.exists():
            conflicts_mod.write_conflicts(found, conflicts_to, delimiter)
    _move(path, Path(str(result.archived_to)))
    if result.status == "duplicate_file":
        logger.info("skipped %s", result.summary())
    else:
        logger.info("ingested %s", result.summary())
    return result


def _lineage_source(path: Path) -> str:
    return f"file:{path.name}"[:256]


def _conflict_args(
    path: Path, sha256: str, checked: Validated
) -> tuple[pd.DataFrame, pd.Series, str, str]:
    lines = checked.good_lines
    if lines is None:
        lines = pd.Series(pd.NA, index=checked.good.index, dtype="Int64")
    return checked.good, lines, batch_id_for(sha256), _lineage_source(path)


def _insert(
    conn: sqlite3.Connection,
    path: Path,
    sha256: str,
    checked: Validated,
    started: datetime,
    processed: Path,
    quarantine: Path,
) -> tuple[IngestResult, pd.DataFrame | None]:
    """The good rows into Bronze; ids already there are skipped and counted,
    as duplicates when unchanged and as rejected conflicts when not."""
    stem, suffix = _split(path.name)
    batch_id = batch_id_for(sha256)
    lineage = {
        "source": _lineage_source(path),
        "batch_id": batch_id,
        "ingested_at": started.isoformat(timespec="seconds"),
    }
    loaded = warehouse.insert_new(
        conn, "bronze_transactions", "transaction_id", checked.good.assign(**lineage)
    )
    found = None
    conflicting = 0
    if loaded < len(checked.good):
        found = conflicts_mod.find_conflicts(
            conn, *_conflict_args(path, sha256, checked)
        )
        conflicting = len(found) // 2
    duplicates = len(checked.good) - loaded - conflicting
    rejected = len(checked.rejected) + conflicting
    rejected_to = (
        _free_path(quarantine, stem, ".rejected.csv", sha256, also=".conflicts.csv")
        if rejected
        else None
    )
    detail = _load_detail(checked, duplicates)
    if conflicting:
        assert rejected_to is not None
        where = conflicts_mod.conflicts_path(rejected_to)
        detail = "; ".join(
            p
            for p in (
                f"{conflicting} ids already in Bronze with other content: "
                f"kept as they were, both versions in {where}",
                detail,
            )
            if p
        )
    result = IngestResult(
        file_name=path.name,
        sha256=sha256,
        status="loaded",
        rows_read=checked.rows_read,
        rows_loaded=loaded,
        rows_rejected=rejected,
        rows_duplicate=duplicates,
        batch_id=batch_id,
        archived_to=str(_free_path(processed, stem, suffix, sha256)),
        rejected_to=str(rejected_to) if rejected_to else None,
        detail=detail,
    )
    return result, found


def _interrupted(path: Path, earlier: dict[str, Any]) -> bool:
    """This very file was loaded, but the process died before moving it."""
    archived = earlier["archived_to"]
    return (
        earlier["file_name"] == path.name
        and bool(archived)
        and not Path(archived).exists()
    )


def _resumed(earlier: dict[str, Any]) -> IngestResult:
    logger.warning(
        "%s was loaded (log_seq %s) but not filed away: finishing that now",
        earlier["file_name"],
        earlier["log_seq"],
    )
    return IngestResult(
        file_name=earlier["file_name"],
        sha256=earlier["file_sha256"],
        status="loaded",
        rows_read=earlier["rows_read"],
        rows_loaded=earlier["rows_loaded"],
        rows_rejected=earlier["rows_rejected"],
        rows_duplicate=earlier["rows_duplicate"],
        batch_id=earlier["batch_id"],
        archived_to=earlier["archived_to"],
        rejected_to=earlier["rejected_to"],
        detail="resumed: filed away after an interrupted run",
    )


def _duplicate(
    path: Path, sha256: str, earlier: dict[str, Any], processed: Path
) -> IngestResult:
    stem, suffix = _split(path.name)
    return IngestResult(
        file_name=path.name,
        sha256=sha256,
        status="duplicate_file",
        rows_read=0,
        rows_loaded=0,
        rows_rejected=0,
        rows_duplicate=0,
        batch_id=batch_id_for(sha256),
        archived_to=str(_free_path(processed, stem, suffix, sha256)),
        rejected_to=None,
        detail=(
            f"same content as {earlier['file_name']!r}, loaded at "
            f"{earlier['finished_at']} (log_seq {earlier['log_seq']}): not read again"
        ),
    )


def _quarantine(
    path: Path,
    settings: Settings,
    data: bytes,
    sha256: str,
    error: DropFileError,
    started: datetime,
) -> IngestResult:
    """Log the file-level error, then move the file beside its error.txt."""
    stem, suffix = _split(path.name)
    folder = settings.paths.quarantine_path
    target = _free_path(folder, stem, suffix, sha256, also=".error.txt")
    error_txt = target.with_name(
        target.name[: len(target.name) - len(suffix)] + ".error.txt"
    )
    result = IngestResult(
        file_name=path.name,
        sha256=sha256,
        status="quarantined",
        rows_read=0,
        rows_loaded=0,
        rows_rejected=0,
        rows_duplicate=0,
        batch_id=batch_id_for(sha256),
        archived_to=str(target),
        rejected_to=None,
        detail=str(error),
    )
    with warehouse.connect(settings.paths.warehouse_path) as conn:
        ingest_log.apply_schema(conn)
        ingest_log.append(conn, _log_row(result, len(data), started, None, ()))
    received = _local_now(settings).isoformat(timespec="seconds")
    _write_text(error_txt, error.report(path.name, sha256, received))
    _move(path, target)
    logger.warning("quarantined %s: %s (see %s)", path.name, error, error_txt)
    return result


def _load_detail(checked: Validated, duplicates: int) -> str:
    parts = []
    if duplicates:
        parts.append(f"{duplicates} ids already in Bronze skipped")
    if checked.ignored_columns:
        parts.append("ignored columns: " + ", ".join(checked.ignored_columns))
    return "; ".join(parts)


def _log_row(
    result: IngestResult,
    file_bytes: int,
    started: datetime,
    delimiter: str | None,
    missing: tuple[str, ...],
) -> dict[str, Any]:
    return {
        "file_name": result.file_name[:256],
        "file_sha256": result.sha256,
        "file_bytes": file_bytes,
        "status": result.status,
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
        "rows_duplicate": result.rows_duplicate,
        "batch_id": result.batch_id,
        "delimiter": delimiter,
        "missing_columns": ",".join(missing) or None,
        "detail": result.detail[:2048] or None,
        "archived_to": result.archived_to,
        "rejected_to": result.rejected_to,
        "started_at": started.isoformat(timespec="milliseconds"),
        "finished_at": _utc_now().isoformat(timespec="milliseconds"),
    }


def write_rejected(rejected: pd.DataFrame, target: Path, delimiter: str) -> None:
    """Rejected rows as they came, plus line and reason; fix and drop again.

    Same delimiter as the drop and a BOM so Excel shows accents; the extra
    ``source_line`` and ``reason`` columns are ignored when the fixed file is
    dropped back.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    rejected.to_csv(
        tmp, index=False, sep=delimiter, encoding="utf-8-sig", lineterminator="\n"
    )
    os.replace(tmp, target)


def _write_text(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def _move(path: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)


def _split(name: str) -> tuple[str, str]:
    """'drop.csv' -> ('drop', '.csv'); any other name keeps an empty suffix."""
    if name.lower().endswith(".csv") and len(name) > len(".csv"):
        return name[: -len(".csv")], name[-len(".csv") :]
    return name, ""


def _free_path(
    folder: Path, stem: str, suffix: str, sha256: str, also: str = ""
) -> Path:
    """folder/stem+suffix, or with the content hash in the name if taken.

    ``also`` is a sibling suffix (``.error.txt``) that must be free as well,
    so a quarantined file and its error never pair with another drop's.
    """
    tag = sha256[:8]
    stems = [stem, f"{stem}.{tag}", *(f"{stem}.{tag}-{n}" for n in range(2, 1000))]
    for candidate in stems:
        target = folder / f"{candidate}{suffix}"
        sibling = folder / f"{candidate}{also}"
        if not target.exists() and not (also and sibling.exists()):
            return target
    raise FileExistsError(f"no free name for {stem}{suffix} in {folder}")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _local_now(settings: Settings) -> datetime:
    zone = timezone(timedelta(seconds=settings.rules.utc_offset_seconds))
    return datetime.now(zone)
