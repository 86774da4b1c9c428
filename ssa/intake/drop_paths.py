"""Which of the paths given to a one-shot ingest can be read at all.

A shell glob hands over whatever matches: a dangling symbolic link, a
directory named ``x.csv``, a file removed since. None of these heals by
waiting, so each is reported in one line and the others go on; only trouble
that can pass (a locked warehouse, a full disk) is worth a retry.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path


class UnusablePathError(ValueError):
    """The path is not a readable regular file; the message says why."""


# Errors that waiting does not mend: retrying them only delays the report.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    UnusablePathError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


def path_problem(path: Path) -> str | None:
    """Why ``path`` cannot be ingested, in one line naming it; None if it can."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"{path}: a dangling symbolic link (to {os.readlink(path)})"
        return f"{path}: no such file"
    except NotADirectoryError:
        return f"{path}: no such file (a part of the path is not a folder)"
    except PermissionError:
        return f"{path}: cannot be reached (permission denied on a folder)"
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return f"{path}: a directory, not a file"
    if not stat.S_ISREG(mode):
        return f"{path}: not a regular file (a pipe, socket or device)"
    if not os.access(path, os.R_OK):
        return f"{path}: not readable (permission denied)"
    return None


def split_usable(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """The readable paths in the order given, and one line per other path."""
    usable: list[Path] = []
    problems: list[str] = []
    for given in paths:
        path = Path(given)
        problem = path_problem(path)
        if problem is None:
            usable.append(path)
        else:
            problems.append(problem)
    return usable, problems


def can_heal(error: BaseException) -> bool:
    """Worth a retry: anything but a path that is not (or no longer) a file.

    A locked warehouse (``sqlite3.OperationalError``) or a full disk may
    pass; an unknown error is retried too rather than given up at once.
    """
    return not isinstance(error, PERMANENT_ERRORS)
