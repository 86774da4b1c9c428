"""What every warehouse engine offers the pipeline, and the SQL-file runner
they share.

Models are plain ``select`` files under ``sql/``; an engine materialises a
file as the table named after it (dbt style) and binds only the parameters
the file mentions (``:name``), so a threshold is never formatted into SQL
text. The files keep to the subset SQLite, DuckDB and Spark agree on
(``sql/portable-sql.md``); an engine only translates the parameter marker.
Where a file fans out over the detection rules (a flag column, a weight, a
sum per rule) it loops over their entries in ``ssa.rules`` as a Jinja
template (dbt style again), rendered once when the file is first read: a
new rule is one entry, not an edit in every file that lists the rules.

Two levels: a ``Warehouse`` is the store a run's settings chose (where it is,
what it can do, the whole-model builds and exports), a ``Session`` one
transaction on it (reads, loads, scripts). Code outside ``ssa.engines`` sees
only these two protocols.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jinja2
import pandas as pd
import pyarrow as pa

from ssa.ranking import QUEUE_ORDER
from ssa.rules import sql_context

# The models and scripts every engine runs.
SQL_DIR = Path(__file__).resolve().parents[2] / "sql"

PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

Progress = Callable[[str], None]
# Writes the risk model's scores in the session it is given (Gold reads them).
Scorer = Callable[["Session"], None]


class WarehouseError(RuntimeError):
    """The warehouse or a model is unusable; the message says which."""


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, for the callers that must choose a path.

    ``incremental``: recompute only the partitions a drop touches (else a
    drop rebuilds Silver and Gold whole). ``shared_writers``: several
    processes may open the warehouse at once, one writing (SQLite's WAL);
    without it one process at a time holds the file, so the watcher hands
    files to the process that refreshes instead of loading them itself.
    ``writes_while_reading``: a session may write while the chunks of a
    ``query_numeric_chunks`` are still being read (SQLite: they come from a
    connection of their own, or a statement of its own beside the writes);
    without it every chunk is read before the session writes again (DuckDB
    streams them from the connection it writes on).
    """

    incremental: bool
    shared_writers: bool
    writes_while_reading: bool = False


@dataclass(frozen=True)
class TableCsv:
    """How a whole table is written as CSV: the row order, the ISO-8601
    local time columns (new name -> the epoch column it precedes)."""

    order_by: tuple[str, ...]
    iso_times: Mapping[str, str]
    utc_offset_seconds: int


# A text cell starting so is a formula to Google Sheets and Excel (CSV
# injection): every export, frame or table, writes it with a leading
# apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_columns(
    columns: Sequence[str], iso_times: Mapping[str, str]
) -> list[tuple[str, str | None]]:
    """A table export's columns in order, as (name, epoch column it shows as
    ISO-8601 local time, or None); each time comes right before its epoch."""
    out: list[tuple[str, str | None]] = []
    for name in columns:
        out += [(new, name) for new, source in iso_times.items() if source == name]
        out.append((name, None))
    return out


class Session(Protocol):
    """One transaction on the warehouse: it commits or rolls back whole."""

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> int:
        """One statement; the rows it changed (0 for DDL)."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """One statement per row of values (``?`` markers); rows changed."""

    def fetchall(
        self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """The rows of one select."""

    def query(self, relative: str, params: Mapping[str, Any]) -> pd.DataFrame:
        """The rows of ``sql/<relative>`` (a select) as a frame."""

    def query_numeric(
        self,
        relative: str,
        params: Mapping[str, Any],
        text_columns: tuple[str, ...],
    ) -> pd.DataFrame:
        """``query`` with ``text_columns`` as text and every other column as
        float64, NULL as NaN: wide numeric reads (the risk model's features)."""

    def query_numeric_chunks(
        self,
        relative: str,
        params: Mapping[str, Any],
        text_columns: tuple[str, ...],
        rows: int,
    ) -> Iterator[pd.DataFrame]:
        """``query_numeric`` in frames of at most ``rows`` rows, read as they
        are consumed: a caller can work on one (the risk model's scoring,
        which lets go of the GIL) while the next is read, and never holds
        every row's Python objects at once."""

    def read_table(self, table: str) -> pd.DataFrame:
        """A whole table as a frame (small tables, checks and tests)."""

    def run_script(self, relative: str, params: Mapping[str, Any]) -> int:
        """Each statement of ``sql/<relative>``; the rows they changed."""

    def insert_new(self, table: str, key: str, frame: pd.DataFrame) -> int:
        """Append the rows whose key is not stored yet; how many went in. A
        key repeated inside the frame is an error naming the rows."""

    def keys_table(self, name: str, column: str, values: Iterable[Any]) -> None:
        """A temporary one-column table ``temp.<name>`` of distinct values
        (the ids a drop brings, for joins); replaced if it exists."""

    def stage_rows(self, name: str, like: str, frame: pd.DataFrame) -> None:
        """A temporary table ``temp.<name>`` holding the frame's rows, its
        columns typed as those of table ``like`` (rows a set-based script
        merges in); replaced if it exists. NULL as None or NaN."""

    def table_exists(self, table: str) -> bool: ...

    def apply_schema(self) -> None:
        """Bronze's tables and the ingestion log, created or brought up to
        date (columns added by later versions)."""

    def require_bronze(self) -> None:
        """Fail with a message a person can act on when Bronze is missing."""


class Warehouse(Protocol):
    """The store a run's settings chose."""

    engine: str
    capabilities: Capabilities

    @property
    def location(self) -> str:
        """Where it is, for people: a file path or a cluster address."""

    def exists(self) -> bool:
        """Whether anything was ever stored here."""

    def transaction(self) -> AbstractContextManager[Session]: ...

    def build_silver(
        self,
        params: Mapping[str, Any],
        new_batches: Sequence[str] | None = None,
        max_customer_share: float = 1.0,
        progress: Progress | None = None,
    ) -> tuple[str, dict[str, int]]:
        """Silver, whole or (given the Bronze batches a drop added, where the
        engine can and the drop touches at most ``max_customer_share`` of the
        customers) only the partitions they touch. ("full" or "incremental",
        rows per model.)"""

    def build_gold(
        self,
        params: Mapping[str, Any],
        incremental: bool = False,
        score: Scorer | None = None,
    ) -> dict[str, int]:
        """Gold, whole, or only what the last incremental Silver changed.

        ``score`` writes the model's scores first, in a transaction of its
        own; an engine that runs a statement on one core runs it beside the
        Gold models that do not read the scores."""

    def changed_silver_only(self, session: Session) -> AbstractContextManager[None]:
        """Inside, ``silver_transactions`` holds only the rows the last
        incremental Silver refresh changed (what the model scores after a
        drop)."""

    def write_table_csv(self, table: str, path: Path, layout: TableCsv) -> int:
        """A whole table as a spreadsheet-safe CSV, replaced atomically."""

    def checkpoint(self) -> dict[str, int]:
        """Fold the write-ahead log into the store; what was done: SQLite's
        page counts (``wal_pages``, ``copied``, ``busy``), ``wal_folded``
        where a log was folded whole, nothing where an engine keeps none."""

    def keep_open(self) -> AbstractContextManager[None]:
        """Held by a long-running process (the watcher) between refreshes,
        where holding the store open saves work; a no-op elsewhere."""


# --- SQL files ----------------------------------------------------------------


# StrictUndefined: a misspelt rule attribute fails the render, not the SQL.
# The loader lets a file import shared macros (sql/macros/).
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SQL_DIR),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)


@functools.cache
def sql_text(relative: str) -> str:
    """The text of ``sql/<relative>``, its rule loops (and the alert queue's
    order) rendered."""
    path = SQL_DIR / relative
    if not path.exists():
        raise WarehouseError(f"SQL file not found: {path}")
    try:
        context = {**sql_context(), "queue_order": QUEUE_ORDER}
        return _TEMPLATES.get_template(relative).render(context)
    except jinja2.TemplateError as error:
        raise WarehouseError(f"{path}: {error}") from error


def strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def names_read(model: str) -> set[str]:
    """Every identifier in the model's SQL: the tables it reads are among
    them (a table it does not read is named in none of its words)."""
    sql = strip_comments(sql_text(f"{model}.sql"))
    return set(re.findall(r"[a-z_][a-z0-9_]*", sql))


def statements(script: str) -> list[str]:
    return [s.strip() for s in strip_comments(script).split(";") if s.strip()]


def bind(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of params the SQL names; a missing one is an error."""
    wanted = set(PARAM.findall(strip_comments(sql)))
    missing = wanted - params.keys()
    if missing:
        raise WarehouseError(f"SQL parameters without a value: {sorted(missing)}")
    return {k: params[k] for k in wanted}


def checked_columns(table: str, frame: pd.DataFrame) -> str:
    """The frame's column list for SQL, every name (and the table's) checked
    to be a plain identifier before it is formatted in."""
    check_identifier(table)
    for column in frame.columns:
        check_identifier(column)
    return ", ".join(frame.columns)


def check_identifier(name: str) -> None:
    if not _IDENT.match(name):
        raise WarehouseError(f"not a plain SQL identifier: {name!r}")


def table_of(model: str) -> str:
    """The table a model file materialises: named after the file."""
    table = Path(model).stem
    check_identifier(table)
    return table


def model_sql(model: str) -> tuple[str, str]:
    """(table, select) of ``sql/<model>.sql``."""
    return table_of(model), sql_text(f"{model}.sql")


def in_pieces(frame: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    """A frame read whole, handed on ``rows`` rows at a time (engines that
    hand columns over whole serve ``query_numeric_chunks`` so)."""
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows]


def numeric_frame(
    batch: pa.RecordBatch | pa.Table, text_columns: tuple[str, ...], relative: str
) -> pd.DataFrame:
    """Arrow columns as ``query_numeric`` hands them on: ``text_columns`` as
    text (pandas' Arrow-backed strings, no Python object per cell), every
    other column as float64 with NULL as NaN."""
    columns: dict[str, Any] = {}
    for name, column in zip(batch.column_names, batch.columns, strict=True):
        if name in text_columns:
            columns[name] = column.cast(pa.string()).to_pandas()
            continue
        try:
            numbers = column.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise WarehouseError(
                f"query {relative}: column {name} is not numeric ({exc})"
            ) from exc
        columns[name] = numbers.to_numpy(zero_copy_only=False)
    return pd.DataFrame(columns)


def check_insert(table: str, key: str, frame: pd.DataFrame) -> None:
    """Plain identifiers, and no key twice in the batch: an error naming the
    rows, never a silent drop."""
    for name in (table, key, *frame.columns):
        check_identifier(name)
    repeated = frame[key].duplicated(keep=False)
    if repeated.any():
        rows = frame.index[repeated.to_numpy()][:6].tolist()
        keys = frame.loc[repeated, key].unique()[:3].tolist()
        raise WarehouseError(
            f"{table}: {key} repeated inside one batch ({int(repeated.sum())} "
            f"rows, e.g. {keys} at rows {rows}); fix the source, nothing was loaded"
        )
