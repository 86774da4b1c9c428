"""Wide numeric reads from the SQLite file as Arrow columns.

Python's sqlite3 hands a result over as one Python object per cell: on a
million rows of the risk model's forty-odd features that was most of the
time scoring takes. Apache Arrow's ADBC driver for SQLite steps the same
statement in C and fills Arrow record batches, a column at a time.

It reads in a process of its own (``sqlite_arrow_process``, which says
why: the driver links its own copy of SQLite), so it sees what is
committed: the session reads through it only while its own transaction
has written nothing and shadows nothing (``SQLiteSession.sees_committed``).

The driver fixes each column's Arrow type from the first batch and refuses
a later value of another type (a column of integers meeting a real, or one
NULL throughout the first batch meeting anything). SQLite types values,
not columns, so the query is read behind one leading row of the types
wanted, dropped again: a real in each numeric column, which the driver
then fills with integers and reals alike as doubles, and text in each text
column, whose values are cast to text. Numeric columns are not cast: a
cast costs more than the driver's conversion, and would turn text that
strayed into a number column into 0 where the driver refuses it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from ssa.engines.base import PARAM, WarehouseError, strip_comments


def typed_select(sql: str, names: list[str], text_columns: tuple[str, ...]) -> str:
    """``sql`` wrapped so that each column keeps one type from row to row,
    behind a leading row of those types (``read_batches`` drops it)."""
    for name in names:
        if not name.isidentifier():
            raise WarehouseError(f"not a plain column name: {name!r}")
    first = ", ".join(
        f"'' as {n}" if n in text_columns else f"0e0 as {n}" for n in names
    )
    cast = ", ".join(
        f"cast({n} as text) as {n}" if n in text_columns else n for n in names
    )
    return f"select {first} union all select {cast} from ({sql}\n)"


def positional(sql: str, params: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """``:name`` markers as SQLite's numbered ``?N`` ones and their values in
    that order: the driver binds parameters by position."""
    order: list[str] = []

    def number(match: Any) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"?{order.index(name) + 1}"

    text = PARAM.sub(number, strip_comments(sql))
    return text, tuple(params[name] for name in order)


def read_batches(
    path: Path,
    sql: str,
    params: Mapping[str, Any],
    names: list[str],
    text_columns: tuple[str, ...],
    rows: int,
    relative: str,
) -> Iterator[pa.RecordBatch]:
    """The rows of ``sql`` (columns ``names``) in Arrow batches of at most
    ``rows`` rows: ``text_columns`` as text, every other one as real. Read
    by a process of its own (``sqlite_arrow_process``), streamed back as
    it reads."""
    text, values = positional(typed_select(sql, names, text_columns), params)
    request = {"path": str(path), "sql": text, "values": values, "rows": rows}
    with subprocess.Popen(
        [sys.executable, str(_PROCESS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        _widen(child.stdout)
        try:
            child.stdin.write(json.dumps(request, default=_plain).encode())
            child.stdin.close()
            first = True
            cut: Exception | None = None
            try:
                for batch in pa.ipc.open_stream(child.stdout):
                    if first:
                        batch, first = batch.slice(1), False
                    if batch.num_rows:
                        yield batch
            except (pa.ArrowInvalid, OSError) as exc:
                cut = exc  # the stream stopped short: the reader says why
        finally:
            if child.poll() is None and not child.stdout.closed:
                child.stdout.close()  # the caller stopped early
            error = child.stderr.read().decode(errors="replace").strip()
            status = child.wait()
        if status != 0 or cut is not None:
            raise WarehouseError(f"query {relative} failed: {error or cut}")


_PROCESS = Path(__file__).with_name("sqlite_arrow_process.py")
# Bytes the pipe from the reader holds (Linux; 64 KiB by default): a batch
# of features is megabytes, and each filled pipe is a switch between the
# two processes.
PIPE_BYTES = 1 << 20


def _widen(pipe: Any) -> None:
    """The pipe's buffer at ``PIPE_BYTES`` where the system lets it be set."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        return
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    with contextlib.suppress(OSError):  # above the system's limit: the default
        fcntl.fcntl(pipe.fileno(), set_size, PIPE_BYTES)


def _plain(value: Any) -> Any:
    """numpy scalars among the parameters as the Python values JSON holds."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot pass {type(value).__name__} to the reader: {value!r}")
