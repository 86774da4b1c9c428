"""Rows a drop brings under an id Bronze already holds, with other content.

Bronze keeps the facts as they first arrived: a row sent again unchanged is
a duplicate, skipped and counted; a row sent again *changed* (a corrected
amount, a late bairro) is a conflict. It is never counted as a duplicate and
never overwrites the stored row: it goes to ``<file>.conflicts.csv`` in the
quarantine, the stored and the incoming version one above the other, so
that someone decides. Silver and Gold therefore never see a row change under
an id they have already judged.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ssa.engines import Session
from ssa.intake.validation import BRONZE_COLUMNS

CONTENT_COLUMNS = BRONZE_COLUMNS[1:]  # all but transaction_id
LEAD_COLUMNS = ("transaction_id", "version", "source_line", "differs", "source")


def find_conflicts(
    session: Session,
    good: pd.DataFrame,
    lines: pd.Series,
    batch_id: str,
    source: str,
) -> pd.DataFrame:
    """Both versions of each row of ``good`` whose id another batch loaded
    with other content; empty when every known id came back unchanged.

    ``lines`` are the rows' lines in the file, ``source`` the drop's
    lineage name; the stored version carries its own.
    """
    stored = _stored_versions(session, good["transaction_id"], batch_id)
    if stored.empty:
        return pd.DataFrame(columns=[*LEAD_COLUMNS, *CONTENT_COLUMNS])
    incoming = good.assign(source_line=lines.to_numpy(), source=source)
    incoming = incoming.set_index("transaction_id").loc[stored["transaction_id"]]
    stored = stored.set_index("transaction_id")
    differs = _differing_columns(incoming, stored)
    changed = differs != ""
    if not changed.any():
        return pd.DataFrame(columns=[*LEAD_COLUMNS, *CONTENT_COLUMNS])
    ids = differs.index[changed]
    lines_of = incoming.loc[ids, "source_line"]
    both = pd.concat(
        [
            stored.loc[ids].assign(version="stored", source_line=lines_of),
            incoming.loc[ids].assign(version="incoming"),
        ]
    )
    both["differs"] = differs.loc[both.index].to_numpy()
    both = both.rename_axis("transaction_id").reset_index()
    both = both.sort_values("source_line", kind="stable")
    return both[[*LEAD_COLUMNS, *CONTENT_COLUMNS]].reset_index(drop=True)


def _stored_versions(session: Session, ids: pd.Series, batch_id: str) -> pd.DataFrame:
    session.keys_table("drop_ids", "transaction_id", ids)
    try:
        stored = session.query("bronze/stored_versions.sql", {"batch_id": batch_id})
    finally:
        session.execute("drop table temp.drop_ids")
    return stored[["transaction_id", *CONTENT_COLUMNS, "source"]]


def _comparable(column: pd.Series) -> np.ndarray:
    """Values as Python objects with None for every kind of missing, so that
    1 (Int64) equals 1.0 (a SQLite integer read beside NULLs) and NULL NULL."""
    return column.astype(object).where(column.notna(), None).to_numpy()


def _differing_columns(incoming: pd.DataFrame, stored: pd.DataFrame) -> pd.Series:
    """Per id, the content columns that differ, comma-separated ("" if none)."""
    names = np.array(CONTENT_COLUMNS, dtype=object)
    unequal = np.column_stack(
        [
            _comparable(incoming[c]) != _comparable(stored.loc[incoming.index, c])
            for c in CONTENT_COLUMNS
        ]
    )
    return pd.Series(
        [", ".join(names[row]) for row in unequal], index=incoming.index, dtype=object
    )


def conflicts_path(rejected_to: Path) -> Path:
    """``x.rejected.csv`` -> ``x.conflicts.csv``: chosen together, never apart."""
    return rejected_to.with_name(
        rejected_to.name.removesuffix(".rejected.csv") + ".conflicts.csv"
    )


def write_conflicts(conflicts: pd.DataFrame, target: Path, delimiter: str) -> None:
    """Same delimiter as the drop and a BOM, as the rejected rows."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    conflicts.to_csv(
        tmp, index=False, sep=delimiter, encoding="utf-8-sig", lineterminator="\n"
    )
    os.replace(tmp, target)
