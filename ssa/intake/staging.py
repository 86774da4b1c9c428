"""Drops handed from the watcher to the process that loads them.

On an engine that lets one process at a time open the warehouse (DuckDB),
the watcher in Prefect mode cannot load a drop itself while a worker's run
refreshes: it moves each complete file into ``incoming/.staged/`` instead
(keeping its source folder, so a mapped export still follows its mapping)
and asks for a refresh; the refresh run loads every staged file, then
refreshes, in one process. A staged file is as safe as one in the folder:
a run that fails leaves it there for the next.
"""

from __future__ import annotations

import os
from pathlib import Path

STAGED_FOLDER = ".staged"  # a dot-folder: the watcher never takes it for a drop


def staged_root(incoming: Path) -> Path:
    return incoming / STAGED_FOLDER


def stage(path: Path, incoming: Path) -> Path:
    """Move a complete drop under ``.staged/``, at the same place relative to
    the watched folder; a name already staged gets a number."""
    target = staged_root(incoming) / path.resolve().relative_to(incoming.resolve())
    target.parent.mkdir(parents=True, exist_ok=True)
    stem, suffix = target.stem, target.suffix
    n = 1
    while target.exists():
        n += 1
        target = target.with_name(f"{stem}-{n}{suffix}")
    os.replace(path, target)
    return target


def staged_files(incoming: Path) -> list[Path]:
    """The staged drops, in the order they were staged."""
    root = staged_root(incoming)
    if not root.is_dir():
        return []
    found = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))
