"""The column-wise SQLite read, run as a process of its own.

Apache Arrow's ADBC driver carries its own copy of SQLite, linked into it,
beside the one Python's ``sqlite3`` uses. Two copies of SQLite in one
process do not know of each other's connections to a file: closing its
connection, the driver's copy believed itself the last one, checkpointed
and deleted the warehouse's ``-wal`` and ``-shm`` files while the
session's connections still used them, and closing its file handles
dropped the process's POSIX locks that the other copy's connections held
(https://www.sqlite.org/howtocorrupt.html, "Multiple copies of SQLite
linked into the same application"). In a process of its own the driver is
one more reader whose locks the others see, as any other process's.

Reads a JSON request on stdin (database path, SQL with ``?N`` markers, its
values, rows per batch), opens the database read-only and writes the
result to stdout as an Arrow IPC stream. A failure goes to stderr, with
exit status 1. Imports nothing of the project: it runs by its path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

import adbc_driver_sqlite.dbapi as adbc
import pyarrow as pa

# The reading connection's page cache, as the warehouse's own connections
# have it (sqlite_connection.open_connection): the features join reads
# Silver's tables by index.
CACHE_PRAGMA = "pragma cache_size = -262144"


def read_only_uri(path: str) -> str:
    """The database as a read-only URI: a reader never checkpoints."""
    return f"file:{quote(str(Path(path).resolve()))}?mode=ro"


def main() -> int:
    request = json.load(sys.stdin)
    uri = read_only_uri(request["path"])
    try:
        with adbc.connect(uri) as conn, conn.cursor() as cursor:
            cursor.execute(CACHE_PRAGMA)
            cursor.fetchall()
            cursor.adbc_statement.set_options(
                **{"adbc.sqlite.query.batch_rows": str(request["rows"])}
            )
            cursor.execute(request["sql"], tuple(request["values"]))
            reader = cursor.fetch_record_batch()
            sink = pa.output_stream(sys.stdout.buffer)
            with pa.ipc.new_stream(sink, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
    except BrokenPipeError:  # the caller stopped reading early
        return 0
    except (adbc.Error, OSError) as exc:  # OSError: Arrow's reader
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
