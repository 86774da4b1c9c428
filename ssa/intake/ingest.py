"""Ingest one raw CSV drop into Bronze, exactly once.

Order of work, and why it survives ``kill -9`` at any point:

1. Read the bytes and hash them; read and validate (pure, no lock held).
2. One warehouse transaction: if this content was loaded before, log a
   duplicate; otherwise insert the good rows (ids already in Bronze are
   skipped and counted) and the log row. Commit. Killed before the commit,
   nothing is left and the file is still in the folder; killed after it, the
   log says the file is in.
3. Write ``<file>.rejected.csv`` and move the file to ``processed/<day>/``
   (or, for a file-level error, to ``quarantine/`` with ``.error.txt``). The
   paths are chosen before the commit and recorded in the log, so a watcher
   killed between 2 and 3 finishes the moves when it sees the file again.

Accounting for every file: rows_read = rows_loaded + rows_rejected +
rows_duplicate + rows_skipped (a check constraint on ``ingestion_log``
enforces it). Skipped rows are those a source's mapping says are not
payments (``skip``), or a report file's pending reports (open cases, not
verdicts): listed in ``<file>.skipped.csv`` beside the archived file, since
nothing in them is to be fixed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ssa.engines import Session, open_warehouse
from ssa.intake import conflicts as conflicts_mod
from ssa.intake import ingest_log, labels, report_drop, source_features
from ssa.intake.drop_file import (
    DropFile,
    DropFileError,
    Layout,
    read_declared,
    read_drop,
)
from ssa.intake.mapped_drop import Mapped, check_header, fraud_count, read_columns
from ssa.intake.report_mapping import OutcomeSpec
from ssa.intake.source_mapping import (
    LABELS_FOLDER,
    Source,
    SourceError,
    load_source,
    report_folder,
    reported_source,
)
from ssa.intake.validation import (
    BairroIndex,
    Checks,
    Validated,
    bairro_index,
    validate,
    validate_mapped,
)
from ssa.settings import Settings

logger = logging.getLogger("ssa.intake.ingest")

Status = Literal["loaded", "duplicate_file", "quarantined"]
# Hex digits of a SHA-256 that a Bronze batch id keeps, a file's and the
# generator month's alike (tasks/bronze.py).
BATCH_DIGEST_CHARS = 16


@dataclass(frozen=True)
class IngestResult:
    """What happened to one file; the same figures as its ingestion_log row."""

    file_name: str
    # The system it came from, as ingestion_log.source says it.
    source: str
    sha256: str
    status: Status
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_duplicate: int
    rows_skipped: int
    batch_id: str
    archived_to: str | None
    rejected_to: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line per file, naming where its refused rows went so the user
        can open them, fix them and drop them again."""
        return summary_line(self.as_dict())


def quarantine_file(result: Mapping[str, Any]) -> str | None:
    """Where what was refused of a drop went, from its result or log row:
    its rejected rows (with line and reason), or the whole file when it
    could not be read (its reason beside it, in ``.error.txt``)."""
    if result.get("rejected_to"):
        return str(result["rejected_to"])
    if result.get("status") == "quarantined" and result.get("archived_to"):
        return str(result["archived_to"])
    return None


def summary_line(result: Mapping[str, Any]) -> str:
    """A file's accounting in one line, from its result or log row."""
    where = quarantine_file(result)
    return (
        f"{result['file_name']}: {result['status']}, read={result['rows_read']} "
        f"loaded={result['rows_loaded']} rejected={result['rows_rejected']} "
        f"duplicates={result['rows_duplicate']}"
        + (f" skipped={skipped}" if (skipped := result.get("rows_skipped")) else "")
        + (f" source={source}" if (source := result.get("source")) else "")
        + (f" ({result['detail']})" if result["detail"] else "")
        + (f"; quarantined to {where}" if where else "")
    )


def batch_id_for(sha256: str) -> str:
    """Bronze batch id of a file: its content, not its name."""
    return "file-" + sha256[:BATCH_DIGEST_CHARS]


def ingest_file(
    path: Path,
    settings: Settings,
    *,
    source: str | None = None,
    keep_original: bool = False,
    bairros: BairroIndex | None = None,
    before_commit: Callable[[], None] | None = None,
) -> IngestResult:
    """Validate, load and file away one drop; raises only on I/O trouble.

    ``source`` names the mapping (``sources/<name>.yaml``) the file's layout
    follows; None is the native contract, ``labels`` a reported-fraud file
    in the native labels layout, ``<name>/labels`` one in the layout of that
    source's ``reports`` section.
    ``keep_original`` copies the file into the archive instead of moving it:
    a one-shot ingest of a user's own file must leave it where it is.
    ``before_commit`` runs inside the transaction after every row is written
    and before the commit: tests use it to kill the process at the worst
    moment.
    """
    started = _utc_now()
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    reference = settings.paths.resolve(settings.paths.bairros_csv)
    bairros = bairros or bairro_index(reference)
    target = _Target(path, source, keep_original)
    offset = settings.rules.utc_offset_seconds
    try:
        if source == LABELS_FOLDER:
            drop = read_drop(data, labels.CONTRACT)
            checked = labels.validate_labels(drop, offset)
            parsed = _Parsed(
                checked, drop.delimiter, labels=checked.good, as_written=drop.as_written
            )
        elif (reporter := reported_source(source)) is not None:
            parsed = _report_rows(data, _load_mapping(reporter, settings))
        elif source is not None:
            mapping = _load_mapping(source, settings)
            drop = read_declared(
                data,
                mapping.mapping.file.encoding,
                mapping.mapping.file.delimiter,
                mapping.mapping.file.header_line,
                mapping.display_path,
                expect=read_columns(mapping),
                quote=mapping.mapping.file.quote,
            )
            check_header(drop, mapping)
            checks = Checks(settings.limits, settings.region)
            checked, mapped = validate_mapped(drop, mapping, bairros, offset, checks)
            parsed = _mapped_rows(checked, mapped, mapping, drop)
        else:
            drop = read_drop(data)
            checked = validate(
                drop, bairros, offset, limits=settings.limits, region=settings.region
            )
            parsed = _Parsed(checked, drop.delimiter, as_written=drop.as_written)
    except DropFileError as error:
        return _quarantine(target, settings, data, sha256, error, started)
    return _load(target, settings, data, sha256, parsed, started, before_commit)


@dataclass(frozen=True)
class _Target:
    """The file being ingested and where it goes once handled."""

    path: Path
    source: str | None
    keep_original: bool

    @property
    def folder(self) -> str:
        """The source's subfolder in processed/ and quarantine/, '' if native."""
        return self.source or ""

    @property
    def labels_only(self) -> bool:
        """A reported-fraud file: its rows go to reported_labels only."""
        return self.source == LABELS_FOLDER or reported_source(self.source) is not None

    @property
    def lineage(self) -> str:
        name = f"{self.source}/{self.path.name}" if self.source else self.path.name
        return f"{ingest_log.FILE_LINEAGE}{name}"[:256]


@dataclass(frozen=True)
class _Parsed:
    """A validated drop: Bronze rows (and labels), and how it was delimited."""

    checked: Validated
    delimiter: str
    labels: pd.DataFrame | None = None
    # Each lower-case header name as the file spelled it.
    as_written: dict[str, str] = field(default_factory=dict)
    # A mapped drop's source features: transaction_id, features_json.
    features: pd.DataFrame | None = None
    # The mapping whose ``skip`` left rows out, as messages name it, and how
    # many of those rows its label column called fraud.
    skipped_by: str = ""
    skipped_fraud: int = 0
    # What those rows are, for the file's detail.
    skipped_are: str = "rows that are not payments skipped"
    # The declared layout of a mapped drop, which its rejected rows keep.
    layout: Layout | None = None


def _load_mapping(source: str, settings: Settings) -> Source:
    try:
        return load_source(source, settings.paths.sources_path)
    except SourceError as error:
        raise DropFileError(
            "source_mapping",
            f"source {source!r} has no usable mapping",
            f"a valid {settings.paths.sources_path.name}/{source}.yaml",
            str(error),
        ) from error


def _report_rows(data: bytes, source: Source) -> _Parsed:
    """A source's reported-fraud file read with its ``reports`` section;
    a source without one quarantines the file, saying so."""
    try:
        source.reports()
    except SourceError as error:
        raise DropFileError(
            "source_mapping",
            f"source {source.name!r} says nothing of its reports",
            f"a reports: section in {source.display_path}",
            str(error),
        ) from error
    drop = report_drop.read_reports(data, source)
    checked = report_drop.validate_reports(drop, source)
    spec = source.reports()
    # What sets a report aside: an open case (an outcome column with a
    # value that is no verdict), a dispute that is not about fraud (skip).
    open_cases, others = isinstance(spec.outcome, OutcomeSpec), bool(spec.skip)
    keys = ["reports.outcome"] * open_cases + ["reports.skip"] * others
    return _Parsed(
        checked,
        drop.delimiter,
        labels=checked.good,
        as_written=drop.as_written,
        layout=drop.layout,
        skipped_by=f"{source.display_path}: " + (" and ".join(keys) or "reports"),
        skipped_are=(
            "reports set aside (open cases and disputes not about fraud)"
            if open_cases and others
            else "reports of disputes not about fraud set aside"
            if others
            else "pending reports (open cases, not verdicts) set aside"
        ),
    )


def _mapped_rows(
    checked: Validated, mapped: Mapped, source: Source, drop: DropFile
) -> _Parsed:
    """Bronze rows with the source's own amount and currency as lineage, and
    the labels of the rows that passed."""
    good = checked.good.assign(
        source_amount=mapped.source_amount.iloc[checked.good_index].to_numpy(),
        source_currency=source.mapping.amount.currency,
    )
    passed = mapped.labels.index.isin(checked.good_index)
    return _Parsed(
        replace(checked, good=good),
        drop.delimiter,
        labels=mapped.labels[passed].reset_index(drop=True),
        features=_good_features(checked, mapped),
        as_written=drop.as_written,
        layout=drop.layout,
        skipped_by=f"{source.display_path}: skip",
        skipped_fraud=fraud_count(checked.skipped, source),
    )


def _good_features(checked: Validated, mapped: Mapped) -> pd.DataFrame | None:
    """The source features of the rows that passed, by their Bronze id."""
    if mapped.features_json is None or mapped.features_json.isna().all():
        return None
    return pd.DataFrame(
        {
            "transaction_id": checked.good["transaction_id"].to_numpy(),
            "features_json": mapped.features_json.iloc[checked.good_index].to_numpy(),
        }
    )


def _load(
    target: _Target,
    settings: Settings,
    data: bytes,
    sha256: str,
    parsed: _Parsed,
    started: datetime,
    before_commit: Callable[[], None] | None,
) -> IngestResult:
    paths = settings.paths
    path = target.path
    processed = paths.processed_path / _local_now(settings).date().isoformat()
    processed = processed / target.folder
    checked = parsed.checked
    found: pd.DataFrame | None = None  # a conflict's two versions
    with open_warehouse(settings).transaction() as session:
        session.apply_schema()
        earlier = ingest_log.find_loaded(session, sha256)
        if earlier is not None and _interrupted(path, earlier):
            result = _resumed(earlier)
            if result.rows_rejected > len(checked.rejected):
                found = conflicts_mod.find_conflicts(
                    session, *_conflict_args(target, sha256, checked)
                )
        elif earlier is not None:
            result = _duplicate(target, sha256, earlier, processed)
            ingest_log.append(session, _log_row(result, len(data), started, None, ()))
        else:
            result, found = _insert(
                session,
                target,
                sha256,
                parsed,
                started,
                processed,
                paths.quarantine_path / target.folder,
            )
            ingest_log.append(
                session,
                _log_row(
                    result,
                    len(data),
                    started,
                    parsed.delimiter,
                    checked.missing_optional,
                ),
            )
            if before_commit is not None:
                before_commit()
    if result.status == "loaded" and len(checked.skipped):
        skipped_to = skipped_path(Path(str(result.archived_to)))
        if not skipped_to.exists():
            write_rejected(
                checked.skipped.rename(columns=parsed.as_written),
                skipped_to,
                parsed.delimiter,
            )
    rejected_to = Path(result.rejected_to) if result.rejected_to else None
    if rejected_to is not None:
        if len(checked.rejected) and not rejected_to.exists():
            write_rejected(
                checked.rejected.rename(columns=parsed.as_written),
                rejected_to,
                parsed.delimiter,
                parsed.layout,
            )
        conflicts_to = conflicts_mod.conflicts_path(rejected_to)
        if found is not None and len(found) and not conflicts_to.exists():
            conflicts_mod.write_conflicts(found, conflicts_to, parsed.delimiter)
    _file_away(target, Path(str(result.archived_to)))
    if result.status == "duplicate_file":
        logger.info("skipped %s", result.summary())
    else:
        logger.info("ingested %s", result.summary())
    return result


def _conflict_args(
    target: _Target, sha256: str, checked: Validated
) -> tuple[pd.DataFrame, pd.Series, str, str]:
    lines = checked.good_lines
    if lines is None:
        lines = pd.Series(pd.NA, index=checked.good.index, dtype="Int64")
    return checked.good, lines, batch_id_for(sha256), target.lineage


def _insert(
    session: Session,
    target: _Target,
    sha256: str,
    parsed: _Parsed,
    started: datetime,
    processed: Path,
    quarantine: Path,
) -> tuple[IngestResult, pd.DataFrame | None]:
    """The good rows into Bronze and their labels into reported_labels. Ids
    already in Bronze are skipped and counted, as duplicates when unchanged
    and as rejected conflicts when not."""
    checked = parsed.checked
    stem, suffix = _split(target.path.name)
    batch_id = batch_id_for(sha256)
    lineage = {
        "source": target.lineage,
        "batch_id": batch_id,
        "ingested_at": started.isoformat(timespec="seconds"),
    }
    labelled = 0
    if parsed.labels is not None and len(parsed.labels):
        labelled = labels.store(session, parsed.labels.assign(**lineage))
    found = None
    conflicting = 0
    if target.labels_only:
        loaded, duplicates = labelled, len(checked.good) - labelled
        detail = _labels_detail(session, checked.good, duplicates)
    else:
        loaded = session.insert_new(
            "bronze_transactions",
            "transaction_id",
            checked.good.assign(**lineage),
        )
        if parsed.features is not None and loaded:
            source_features.store(session, parsed.features.assign(**lineage), batch_id)
        if loaded < len(checked.good):
            found = conflicts_mod.find_conflicts(
                session, *_conflict_args(target, sha256, checked)
            )
            conflicting = len(found) // 2
        duplicates = len(checked.good) - loaded - conflicting
        detail = _load_detail(checked, duplicates, labelled)
    skipped = len(checked.skipped)
    archived_to = _free_path(
        processed, stem, suffix, sha256, also=SKIPPED_SUFFIX if skipped else ""
    )
    if skipped:
        fraud = (
            f" ({parsed.skipped_fraud} of them labelled fraud: their labels are "
            "not stored)"
            if parsed.skipped_fraud
            else ""
        )
        said = (
            f"{skipped} {parsed.skipped_are} by {parsed.skipped_by}"
            f"{fraud}, listed in {skipped_path(archived_to)}"
        )
        detail = "; ".join(p for p in (said, detail) if p)
    rejected = len(checked.rejected) + conflicting
    rejected_to = (
        _free_path(quarantine, stem, ".rejected.csv", sha256, also=".conflicts.csv")
        if rejected
        else None
    )
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
        file_name=target.path.name,
        source=ingest_log.logged_source(target.source),
        sha256=sha256,
        status="loaded",
        rows_read=checked.rows_read,
        rows_loaded=loaded,
        rows_rejected=rejected,
        rows_duplicate=duplicates,
        rows_skipped=skipped,
        batch_id=batch_id,
        archived_to=str(archived_to),
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
        source=earlier["source"],
        sha256=earlier["file_sha256"],
        status="loaded",
        rows_read=earlier["rows_read"],
        rows_loaded=earlier["rows_loaded"],
        rows_rejected=earlier["rows_rejected"],
        rows_duplicate=earlier["rows_duplicate"],
        rows_skipped=earlier["rows_skipped"],
        batch_id=earlier["batch_id"],
        archived_to=earlier["archived_to"],
        rejected_to=earlier["rejected_to"],
        detail="resumed: filed away after an interrupted run",
    )


def _duplicate(
    target: _Target, sha256: str, earlier: dict[str, Any], processed: Path
) -> IngestResult:
    path = target.path
    stem, suffix = _split(path.name)
    return IngestResult(
        file_name=path.name,
        source=ingest_log.logged_source(target.source),
        sha256=sha256,
        status="duplicate_file",
        rows_read=0,
        rows_loaded=0,
        rows_rejected=0,
        rows_duplicate=0,
        rows_skipped=0,
        batch_id=batch_id_for(sha256),
        archived_to=str(_free_path(processed, stem, suffix, sha256)),
        rejected_to=None,
        detail=(
            f"same content as {earlier['file_name']!r}, loaded at "
            f"{earlier['finished_at']} (log_seq {earlier['log_seq']}): not read again"
        ),
    )


def _advice(target: _Target) -> str:
    """What to fix, and where the README explains it, for this kind of file."""
    again = "and drop the file again"
    if target.source is None:
        return (
            f"fix the export {again}; the input contract is in the README, "
            "section 'Input contract'."
        )
    if target.source == LABELS_FOLDER:
        return (
            f"fix the labels file {again}; its columns are in the README, "
            "section 'Reported fraud'."
        )
    if (reporter := reported_source(target.source)) is not None:
        return (
            f"fix the report file, or the reports: section of "
            f"sources/{reporter}.yaml where the file is right and the mapping "
            f"is not, {again}; the section's keys are in the README, section "
            "'Reported fraud'."
        )
    return (
        f"fix the export, or sources/{target.source}.yaml where the file is "
        f"right and the mapping is not, {again}; how a mapping reads a file is "
        "in the README, section 'Writing a mapping, step by step'."
    )


def _quarantine(
    target: _Target,
    settings: Settings,
    data: bytes,
    sha256: str,
    error: DropFileError,
    started: datetime,
) -> IngestResult:
    """Log the file-level error, then move the file beside its error.txt."""
    path = target.path
    stem, suffix = _split(path.name)
    folder = settings.paths.quarantine_path / target.folder
    archived = _free_path(folder, stem, suffix, sha256, also=".error.txt")
    error_txt = archived.with_name(
        archived.name[: len(archived.name) - len(suffix)] + ".error.txt"
    )
    result = IngestResult(
        file_name=path.name,
        source=ingest_log.logged_source(target.source),
        sha256=sha256,
        status="quarantined",
        rows_read=0,
        rows_loaded=0,
        rows_rejected=0,
        rows_duplicate=0,
        rows_skipped=0,
        batch_id=batch_id_for(sha256),
        archived_to=str(archived),
        rejected_to=None,
        detail=error.short,
    )
    with open_warehouse(settings).transaction() as session:
        session.apply_schema()
        ingest_log.append(session, _log_row(result, len(data), started, None, ()))
    received = _local_now(settings).isoformat(timespec="seconds")
    _write_text(error_txt, error.report(path.name, sha256, received, _advice(target)))
    _file_away(target, archived)
    logger.warning("quarantined %s: %s (see %s)", path.name, error, error_txt)
    return result


def _load_detail(checked: Validated, duplicates: int, labelled: int) -> str:
    parts = []
    if duplicates:
        parts.append(f"{duplicates} ids already in Bronze skipped")
    if labelled:
        parts.append(f"{labelled} reported labels stored")
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
        "source": result.source[:256],
        "file_sha256": result.sha256,
        "file_bytes": file_bytes,
        "status": result.status,
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
        "rows_duplicate": result.rows_duplicate,
        "rows_skipped": result.rows_skipped,
        "batch_id": result.batch_id,
        "delimiter": delimiter,
        "missing_columns": ",".join(missing) or None,
        "detail": result.detail[:2048] or None,
        "archived_to": result.archived_to,
        "rejected_to": result.rejected_to,
        "started_at": started.isoformat(timespec="milliseconds"),
        "finished_at": _utc_now().isoformat(timespec="milliseconds"),
    }


SKIPPED_SUFFIX = ".skipped.csv"


def skipped_path(archived: Path) -> Path:
    """Where a loaded file's skipped rows are listed: beside the file in
    processed/, not in quarantine/, as there is nothing in them to fix."""
    stem, _ = _split(archived.name)
    return archived.with_name(stem + SKIPPED_SUFFIX)


def write_rejected(
    rejected: pd.DataFrame,
    target: Path,
    delimiter: str,
    layout: Layout | None = None,
) -> None:
    """Rejected rows as they came, plus line and reason; fix and drop again.

    The extra ``source_line`` and ``reason`` columns are ignored when the
    fixed file is dropped back: the native contract ignores unknown columns
    and a mapping reads only the columns it names. A native drop's rows get
    its delimiter and a BOM, so Excel shows accents; a mapped drop's rows are
    written in its declared ``layout`` (encoding, delimiter, the title lines
    above the header verbatim, line ends), so the mapping that read the file
    reads its fix. Cells are written as they came, with no spreadsheet guard
    against formulas: the file goes back into the pipeline, which must see
    what the sender's file said, and the sender's file had those cells.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    if layout is None:
        rejected.to_csv(
            tmp, index=False, sep=delimiter, encoding="utf-8-sig", lineterminator="\n"
        )
    else:
        tmp.write_bytes(_in_layout(rejected, layout))
    os.replace(tmp, target)


def _in_layout(rows: pd.DataFrame, layout: Layout) -> bytes:
    """The rows as a file of ``layout``. Every cell, header name and title
    line came from a file of that encoding; only our reasons may hold a
    character it lacks (a mapping's own text), shown as '?'."""
    encoding = layout.encoding

    def fits(text: object) -> object:
        if not isinstance(text, str):
            return text
        return text.encode(encoding, errors="replace").decode(encoding)

    if "reason" in rows:
        rows = rows.assign(reason=rows["reason"].map(fits))
    body = rows.to_csv(
        index=False,
        sep=layout.delimiter,
        quotechar=layout.quote,
        lineterminator=layout.newline,
    )
    return (layout.above + body).encode(encoding)


def _write_text(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def _labels_detail(session: Session, good: pd.DataFrame, unchanged: int) -> str:
    parts = [f"{unchanged} labels already known unchanged"] if unchanged else []
    unmatched = labels.unmatched(session, good["transaction_id"])
    if unmatched:
        parts.append(
            f"{unmatched} labels for transactions not in Bronze yet (kept; "
            "they count once the transactions arrive)"
        )
    return "; ".join(parts)


def _file_away(target: _Target, archived: Path) -> None:
    """Move the drop to the archive, or copy it when the user keeps it."""
    archived.parent.mkdir(parents=True, exist_ok=True)
    if target.keep_original:
        tmp = archived.with_name(f".{archived.name}.tmp")
        shutil.copyfile(target.path, tmp)
        os.replace(tmp, archived)
    else:
        shutil.move(target.path, archived)


def source_of(path: Path, incoming: Path) -> str | None:
    """The source a file in the watched folder follows: the name of the
    subfolder it sits in (``incoming/sparkov/x.csv``: sparkov), None at the
    top (the native contract). ``labels`` holds reported-fraud files in the
    native labels layout, ``<source>/labels`` (``incoming/sparkov/labels/``)
    that source's reports in the layout of its ``reports`` section."""
    parent = path.parent.resolve()
    root = incoming.resolve()
    if parent == root:
        return None
    if parent.parent == root:
        return parent.name
    if (
        parent.parent.parent == root
        and parent.name == LABELS_FOLDER
        and parent.parent.name != LABELS_FOLDER
    ):
        return report_folder(parent.parent.name)
    raise ValueError(
        f"{path}: drops go at the top of {incoming}, one folder down "
        "(incoming/<source>/), or in a source's reports folder "
        "(incoming/<source>/labels/), not deeper"
    )


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
