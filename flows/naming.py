"""Flow run names people can read and tell apart."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

from prefect import runtime

from ssa.local_time import utc_suffix
from ssa.settings import Settings, local_now

FILES_IN_NAME = 3


def run_stamp(settings: Settings) -> str:
    """When, on Salvador's clock with its offset, and a few characters of the
    run id: two runs started in the same second still get different names."""
    offset = utc_suffix(settings.rules.utc_offset_seconds)
    stamp = f"{local_now(settings):%Y-%m-%d %H:%M:%S}{offset}"
    run_id = str(runtime.flow_run.id or "")[:4]
    return f"{stamp} #{run_id}" if run_id else stamp


def origin(default: str) -> str:
    """The deployment that started the run ('daily', 'on-drop'), or ``default``."""
    return runtime.deployment.name or default


def files_shown(files: Iterable[str]) -> str:
    """'lojas.csv, pix.csv, a.csv +2 more': the first few file names of a
    run (without their folders), so its name says what it took in."""
    names = [PurePath(f.strip()).name for f in files if f.strip()]
    shown = ", ".join(names[:FILES_IN_NAME])
    if len(names) > FILES_IN_NAME:
        shown += f" +{len(names) - FILES_IN_NAME} more"
    return shown
