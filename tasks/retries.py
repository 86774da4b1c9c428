"""The one retry policy of the tasks that read or write files: a locked
warehouse or a file still being copied heals within seconds; SQL and export
steps fail loudly once instead."""

from __future__ import annotations

IO_RETRIES = 3
IO_RETRY_DELAYS_SECONDS = [2, 5, 15]
