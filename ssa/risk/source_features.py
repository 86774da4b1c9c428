"""A source's own columns as risk-model features (``bronze_source_features``).

A mapping's ``features:`` section keeps columns of one system that the
contract leaves out (``ssa/intake/source_features.py``). The model reads
them beside its own, under a prefix (``src:oldbalanceOrg``) so that they
never collide with a contract feature: numbers as floats, categories coded
by the training vocabulary as the model's own categories are. A row
without them (another source, the synthetic month) has them missing,
which LightGBM reads as missing. The model file lists them with their kind,
so the file alone still reproduces its scores.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ssa.engines import Session
from ssa.models import SOURCE_FEATURES_TABLE

PREFIX = "src:"
TABLE = SOURCE_FEATURES_TABLE
SQL = "model/source_features.sql"
TEXT_COLUMNS = ("transaction_id", "features_json")

Kind = Literal["numeric", "categorical"]


class SourceFeatureError(ValueError):
    """The stored features cannot be read as one set of model features."""


@dataclass(frozen=True, order=True)
class SourceFeature:
    """One declared source column, as the model reads it. Ordered by kind,
    then name: the model's columns never depend on the order rows or JSON
    keys were read in."""

    kind: Kind
    name: str

    @property
    def column(self) -> str:
        """Its column in the model's rows: the prefix keeps it apart."""
        return PREFIX + self.name


def of_model(model: dict[str, Any]) -> tuple[SourceFeature, ...]:
    """The source features a model file was trained with (none in files
    written before they existed)."""
    return tuple(
        SourceFeature(entry["kind"], entry["name"])
        for entry in model.get("source_features", [])
    )


def entries(features: Iterable[SourceFeature]) -> list[dict[str, str]]:
    """The model file's record of them, in the model's column order."""
    return [{"name": f.name, "kind": f.kind} for f in features]


def present(frame: pd.DataFrame) -> tuple[SourceFeature, ...]:
    """The source features of these rows that hold any value, kinds as
    ``read`` typed them (numeric columns are float)."""
    found = []
    for column in frame.columns:
        if not column.startswith(PREFIX) or not frame[column].notna().any():
            continue
        numeric = pd.api.types.is_float_dtype(frame[column])
        kind: Kind = "numeric" if numeric else "categorical"
        found.append(SourceFeature(kind, column[len(PREFIX) :]))
    return tuple(sorted(found))


def read(session: Session) -> pd.DataFrame:
    """``transaction_id`` and one column per source feature stored, for
    every row that has any, each feature's kind from its values (numbers or
    text). SourceFeatureError when one name holds numbers in some rows and
    text in others. Scoring reads a model's features through ``Lookup``."""
    stored = _stored(session)
    rows = [json.loads(text) for text in stored["features_json"].tolist()]
    out: dict[str, Any] = {"transaction_id": stored["transaction_id"].to_numpy()}
    return pd.DataFrame({**out, **_columns(rows, _kinds(rows))})


def _stored(session: Session) -> pd.DataFrame:
    """The table's ids and JSON text (none in a warehouse older than it)."""
    if not session.table_exists(TABLE):
        return pd.DataFrame({c: pd.Series([], dtype="string") for c in TEXT_COLUMNS})
    return session.query_numeric(SQL, {}, TEXT_COLUMNS)


def _columns(
    rows: list[dict[str, Any]], features: Iterable[SourceFeature]
) -> dict[str, np.ndarray]:
    """Each feature's values over the parsed rows: numbers as floats (NaN
    where missing or not a number), categories as text (None likewise)."""
    out = {}
    for feature in features:
        cells = [row.get(feature.name) for row in rows]
        if feature.kind == "numeric":
            out[feature.column] = np.array(
                [_number(v) for v in cells], dtype=np.float64
            )
        else:
            out[feature.column] = pd.Series(
                [v if isinstance(v, str) else None for v in cells], dtype=object
            ).to_numpy()
    return out


class Lookup:
    """A model's source features for the rows it scores, a chunk at a time.

    The stored JSON is read once as text and parsed only for the rows of
    each chunk: the refresh after a drop parses the drop's rows, not every
    row the table holds."""

    def __init__(self, session: Session, wanted: Sequence[SourceFeature]) -> None:
        stored = _stored(session)
        self.wanted = tuple(sorted(wanted))
        self.ids = pd.Index(stored["transaction_id"])
        self.texts = stored["features_json"]

    def join(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with each wanted feature's column, missing where a row
        has none."""
        at = self.ids.get_indexer(frame["transaction_id"])
        found = np.flatnonzero(at >= 0)
        rows = [json.loads(t) for t in self.texts.iloc[at[found]].tolist()]
        columns: dict[str, Any] = {}
        for name, values in _columns(rows, self.wanted).items():
            full = np.full(len(frame), np.nan if values.dtype == np.float64 else None)
            full[found] = values
            columns[name] = full
        return frame.assign(**columns)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return np.nan
    return float(value)


def _kinds(rows: list[dict[str, Any]]) -> list[SourceFeature]:
    """Each stored name with the kind its values have."""
    kinds: dict[str, set[Kind]] = {}
    for row in rows:
        for name, value in row.items():
            kind: Kind = "categorical" if isinstance(value, str) else "numeric"
            kinds.setdefault(name, set()).add(kind)
    mixed = sorted(name for name, found in kinds.items() if len(found) > 1)
    if mixed:
        raise SourceFeatureError(
            f"source features {mixed} are numeric in one source's mapping and "
            "categorical in another's: declare each name as one kind"
        )
    return sorted(SourceFeature(next(iter(k)), n) for n, k in kinds.items())


def join(
    frame: pd.DataFrame, stored: pd.DataFrame, wanted: Sequence[SourceFeature]
) -> pd.DataFrame:
    """``frame`` with each wanted feature's column, by transaction_id,
    missing where a row has none."""
    by_id = stored.set_index("transaction_id")
    ids = pd.Index(frame["transaction_id"].astype(object).to_numpy())
    columns = {}
    for feature in wanted:
        values = by_id[feature.column].reindex(ids).to_numpy()
        if feature.kind == "numeric":
            values = values.astype(np.float64)
        columns[feature.column] = values
    return frame.assign(**columns)
