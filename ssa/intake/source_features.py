"""A source's own columns, kept for the risk model (a mapping's ``features:``).

The contract holds what every source has in common; the fraud signal of
one system is often in columns only it writes (a payment's balances
before and after, a processor's PCA vector, the payer's e-mail domain).
The mapping names them; each row's values go, as one JSON object, into
``bronze_source_features`` in the same transaction as its Bronze row. Only
the risk model reads that table (``ssa/risk/source_features.py``); the
rules and Gold never do.

Nothing is guessed: an empty cell is missing (the key is left out), and a
numeric cell that is not a number in the mapping's separators rejects the
row with a reason naming the key.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd

from ssa.engines import Session
from ssa.engines.base import sql_text, statements
from ssa.intake import contract
from ssa.intake.source_mapping import FEATURE_TEXT_MAX, AmountSpec, Source
from ssa.models import SOURCE_FEATURES_TABLE

TABLE = SOURCE_FEATURES_TABLE
STORED = ("transaction_id", "source", "batch_id", "features_json")
_STAGED = "new_source_features"


def read(
    raw: pd.DataFrame,
    source: Source,
    seconds_before: dict[str, pd.Series] | None = None,
) -> tuple[pd.Series, list[pd.Series]]:
    """Each row's declared features as JSON text (None when it has none),
    and the rows' problems, one series per declared column. ``raw`` has the
    source's columns under lower-case names; ``seconds_before`` are the
    ``times`` features, already read as seconds before the payment (the
    mapping's time parser reads them)."""
    spec = source.mapping.features
    values: dict[str, pd.Series] = dict(seconds_before or {})
    problems: list[pd.Series] = []
    if spec is None:
        return pd.Series(None, index=raw.index, dtype=object), problems
    for name in spec.numeric:
        values[name], problem = _numbers(
            raw[name.strip().lower()], name, source.mapping.amount, source
        )
        problems.append(problem)
    for name in spec.categorical:
        text = raw[name.strip().lower()].str.strip()
        values[name] = text.astype(object).where(text != "", None)
        problems.append(
            contract.problem_where(
                text.str.len() > FEATURE_TEXT_MAX,
                f"features.categorical: {name} is longer than {FEATURE_TEXT_MAX} "
                f"characters {source.where('features.categorical')}",
            )
        )
    return _as_json(values, raw.index), problems


def _numbers(
    raw: pd.Series, name: str, spec: AmountSpec, source: Source
) -> tuple[pd.Series, pd.Series]:
    """Floats in the separators the mapping gives its amount; NaN if empty."""
    whole = spec.whole_pattern
    decimal = re.escape(spec.decimal)
    pattern = (
        rf"^(?P<sign>[-+]?)(?P<whole>{whole})?(?:{decimal}(?P<frac>\d+))?"
        r"(?P<exp>[eE][-+]?\d{1,3})?$"
    )
    text = raw.str.strip()
    parts = text.str.extract(pattern)
    fits = parts["whole"].notna() | parts["frac"].notna()
    plain = (
        parts["sign"].fillna("")
        + parts["whole"].fillna("0").str.replace(spec.thousands or "\0", "")
        + "."
        + parts["frac"].fillna("0")
        + parts["exp"].fillna("")
    )
    number = pd.to_numeric(plain.where(fits), errors="coerce")
    finite = fits & np.isfinite(number.fillna(0.0))
    empty = text == ""
    says = f"' is not a number {spec.separators_said('-1234.56')} " + source.where(
        "features.numeric"
    )
    problem = contract.problem_where(
        ~empty & ~finite,
        f"features.numeric: {name} '" + text + says,
    )
    return number.where(finite & ~empty), problem


def _as_json(values: dict[str, pd.Series], index: pd.Index) -> pd.Series:
    """One compact JSON object per row, its present values only; None for a
    row without any (it gets no row in the table)."""
    names = list(values)
    columns = [values[n].tolist() for n in names]
    out: list[str | None] = []
    for cells in zip(*columns, strict=True):
        row = {
            n: v
            for n, v in zip(names, cells, strict=True)
            if v is not None and not (isinstance(v, float) and math.isnan(v))
        }
        out.append(json.dumps(row, separators=(",", ":")) if row else None)
    return pd.Series(out, index=index, dtype=object)


def store(session: Session, frame: pd.DataFrame, batch_id: str) -> int:
    """The features of the rows this batch put into Bronze, in the caller's
    transaction; how many rows went in. A row whose id Bronze held before
    (a duplicate, a conflict) gets none: its stored transaction is another
    file's, and so would its features be."""
    rows = frame[frame["features_json"].notna()]
    if rows.empty:
        return 0
    session.stage_rows(_STAGED, TABLE, rows.reindex(columns=list(STORED)))
    count, insert = statements(sql_text("bronze/insert_source_features.sql"))
    params = {"batch_id": batch_id}
    try:
        stored = int(session.fetchall(count, params)[0][0])
        session.execute(insert, params)
    finally:
        session.execute(f"drop table temp.{_STAGED}")
    return stored
