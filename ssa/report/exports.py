"""CSV exports people open in spreadsheets: ISO-8601 times, UTF-8, no formulas.

Google Sheets (and Excel) run a cell that starts with ``=``, ``+``, ``-``,
``@``, tab or carriage return as a formula (CSV injection, OWASP). Text cells
that start so get a leading apostrophe; numeric columns stay numbers, so a
longitude of -38.5 is still a number in the sheet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ssa.engines.base import FORMULA_START
from ssa.intake.contract import CONTROL_CHARS
from ssa.local_time import SECONDS_PER_HOUR
from ssa.ranking import EXACT_IN_FLOAT
from ssa.rules import DETECTION_RULES, RULES
from ssa.settings import Settings
from ssa.wording import Language, ReasonFormatter, Said


def sheet_safe(frame: pd.DataFrame, trusted: Sequence[str] = ()) -> pd.DataFrame:
    """Neutralise text cells a spreadsheet would evaluate, and show a control
    character (a NUL cuts a cell in some readers) as U+FFFD; ``trusted``
    columns are made here from numbers (a "lat,long" starting with a minus).
    The intake rejects control characters; a warehouse loaded before it did
    may still hold one."""
    out = frame.copy()
    for name in out.columns:
        if name in trusted:
            continue
        col = out[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            continue
        text = col.astype("string")
        control = text.str.contains(CONTROL_CHARS.pattern, regex=True).fillna(False)
        if control.any():
            text = text.str.replace(CONTROL_CHARS.pattern, "\ufffd", regex=True)
            out[name] = text
        risky = text.str.startswith(FORMULA_START).fillna(False)
        if risky.any():
            out[name] = text.where(~risky, "'" + text)
    return out


def counts_as_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer columns with empty cells print as integers (``8``, not ``8.0``).

    pandas reads an integer column with a NULL from SQLite as floats; DuckDB
    keeps its type. A float column holding only whole numbers and some
    empty cells is such a column, so both engines write the same cells.
    """
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype.kind == "f" and col.isna().any():
            values = col.dropna()
            whole = (values == values.round()).all()
            if whole and values.abs().lt(EXACT_IN_FLOAT).all():
                out[name] = col.astype("Int64")
    return out


def write_csv(frame: pd.DataFrame, path: Path, trusted: Sequence[str] = ()) -> int:
    """Write atomically (temp file + rename): readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sheet_safe(counts_as_integers(frame), trusted).to_csv(
        tmp, index=False, encoding="utf-8", lineterminator="\n"
    )
    os.replace(tmp, path)
    return len(frame)


# What a person reads first in data/gold_anomalies.csv (README, "Column
# dictionary"); the features that explain a flag follow.
# Made by sheets_frame from the reference table's numbers, not from input.
SHEETS_TRUSTED_COLUMNS = ("bairro_location",)
ANOMALY_LEAD_COLUMNS = (
    "transaction_id",
    "created_at",
    "customer_name",
    "customer_cpf_masked",
    "amount",
    "channel",
    "bairro",
    "anomaly_flag",
    "risk_score",
    "risk_level",
    "reasons",
)
CUSTOMER_LEAD_COLUMNS = (
    "customer_id",
    "customer_name",
    "customer_cpf_masked",
    "home_bairro",
    "customer_risk_score",
    "flagged_transactions",
    "transactions",
    "last_flagged_at",
    "last_transaction_at",
)


def lead_with(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The given columns first (those present), the others after, in order."""
    first = [c for c in columns if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def sheets_frame(
    anomalies: pd.DataFrame, bairros: pd.DataFrame, utc_offset_seconds: int
) -> pd.DataFrame:
    """The flagged rows as a Brazilian Google Sheet reads them (spreadsheet
    locale Brasil): dates dd/mm/aaaa, decimal comma, and the bairro's centroid
    as one "lat,long" field, the geo type Looker Studio maps."""
    local = pd.to_datetime(anomalies["created_at_epoch"] + utc_offset_seconds, unit="s")
    centroid = bairros.set_index("name")[["lat", "lon"]]
    # A row with no bairro (a place outside the region) keeps its own point.
    lat = anomalies["bairro"].map(centroid["lat"]).fillna(anomalies["lat"])
    lon = anomalies["bairro"].map(centroid["lon"]).fillna(anomalies["lon"])
    known = lat.notna() & lon.notna()
    location = pd.Series(None, index=anomalies.index, dtype=object)
    location[known] = [
        f"{a:.5f},{o:.5f}" for a, o in zip(lat[known], lon[known], strict=True)
    ]
    amount = (anomalies["amount_cents"] / 100).map(
        lambda v: f"{v:.2f}".replace(".", ",")
    )
    return pd.DataFrame(
        {
            "transaction_id": anomalies["transaction_id"],
            "date_time": local.dt.strftime("%d/%m/%Y %H:%M:%S"),
            "date": local.dt.strftime("%d/%m/%Y"),
            "hour": local.dt.hour,
            "customer_name": anomalies["customer_name"],
            "customer_cpf_masked": anomalies["customer_cpf_masked"],
            "amount_reais": amount,
            "channel": anomalies["channel"],
            "bairro": anomalies["bairro"],
            "bairro_location": location,
            "anomaly_flag": anomalies["anomaly_flag"],
            "risk_score": anomalies["risk_score"],
            "risk_level": anomalies["risk_level"],
            "reasons": anomalies["reasons"],
        }
    )


# One sentence per rule, from the Silver features that made it fire (the
# Portuguese for the dashboard beside it in ssa.rules).
REASONS = {rule.name: rule.reason for rule in DETECTION_RULES}
REASONS_PT = {rule.name: rule.reason_pt for rule in DETECTION_RULES}


# One sentence per anomaly signal or context (sql/gold/gold_transaction_risk.sql):
# (the column that says it counted, the sentence from the row's features).
ANOMALY_REASONS: tuple[tuple[str, Said], ...] = (
    (
        "amount_doublings",
        Said(
            "{amount_cents:reais}, {amount_to_typical:.1f}x this customer's"
            " typical amount (about {typical_reais_cents:reais})",
            "{amount_cents:reais}, {amount_to_typical:.1f}x o valor típico"
            " deste cliente (cerca de {typical_reais_cents:reais})",
        ),
    ),
    (
        "day_doublings",
        Said(
            "{day_spent_cents:reais} spent in 24 h, {day_spend_to_usual:.1f}x"
            " their usual day",
            "{day_spent_cents:reais} gastos em 24 h, {day_spend_to_usual:.1f}x"
            " o dia habitual do cliente",
        ),
    ),
    (
        "burst_doublings",
        Said(
            "{payments_in_hour:.0f} payments within the hour",
            "{payments_in_hour:.0f} pagamentos em uma hora",
        ),
    ),
    # A payment with no customer (a source that names none) was measured
    # against its file: said so, never "this customer".
    (
        "file_amount_doublings",
        Said(
            "{amount_cents:reais}, {amount_to_file_typical:.1f}x the typical"
            " amount of its file (about {file_typical_reais_cents:reais})",
            "{amount_cents:reais}, {amount_to_file_typical:.1f}x o valor típico"
            " do seu arquivo (cerca de {file_typical_reais_cents:reais})",
        ),
    ),
    (
        "has_unusual_hour",
        Said(
            "{local_time}, an hour this customer rarely pays at",
            "{local_time}, horário em que este cliente raramente paga",
        ),
    ),
    (
        "has_rare_file_hour",
        Said(
            "{local_time}, an hour at which its file has few payments",
            "{local_time}, horário com poucos pagamentos no seu arquivo",
        ),
    ),
    (
        "has_new_category",
        Said(
            "first payment in this category ({category})",
            "primeiro pagamento nesta categoria ({category})",
        ),
    ),
    (
        "has_recent_device",
        Said(
            "from a device first seen in the last {new_device_hours:.0f} h",
            "de um dispositivo visto pela primeira vez nas últimas"
            " {new_device_hours:.0f} h",
        ),
    ),
)


# What anomaly_reasons reads and the export does not carry: the score's
# parts, said in the reasons instead (anomaly_points stays, beside the
# model's probability).
ANOMALY_DETAIL_COLUMNS: tuple[str, ...] = (
    "amount_doublings",
    "day_doublings",
    "burst_doublings",
    "has_unusual_hour",
    "has_new_category",
    "has_recent_device",
    "file_typical_amount_cents",
    "amount_to_file_typical",
    "typical_amount_cents",
    "amount_to_typical",
    "day_spend_to_usual",
    "amount_sum_1d_cents",
    "tx_count_1h",
)


def anomaly_reasons(
    frame: pd.DataFrame, settings: Settings, language: Language = "en"
) -> pd.Series:
    """What made the anomaly score of each row, in words; empty where it
    scored nothing. The settings give the local clock and the windows the
    score's parts were counted over, so the words say the same."""
    utc_offset_seconds = settings.rules.utc_offset_seconds
    if frame.empty:
        return pd.Series([], index=frame.index, dtype="string")
    clock = pd.to_datetime(frame["created_at_epoch"] + utc_offset_seconds, unit="s")
    # A row with no customer was measured against its file: its amount and
    # hour signals take the file's sentences.
    missing = pd.Series(np.nan, index=frame.index)
    unnamed = frame.get("customer_id", missing.fillna("")).isna()
    file_typical = frame.get("file_typical_amount_cents", missing)
    extra = frame.assign(
        amount_doublings=frame["amount_doublings"].where(~unnamed, 0),
        file_amount_doublings=frame["amount_doublings"].where(unnamed, 0),
        has_unusual_hour=frame["has_unusual_hour"].where(~unnamed, 0),
        has_rare_file_hour=frame["has_unusual_hour"].where(unnamed, 0),
        file_typical_reais_cents=(file_typical / 100).round() * 100,
        day_spent_cents=frame["amount_sum_1d_cents"].fillna(0) + frame["amount_cents"],
        payments_in_hour=frame["tx_count_1h"] + 1,
        # A geometric mean of logs kept in thousandths: said to the real.
        typical_reais_cents=(frame["typical_amount_cents"] / 100).round() * 100,
        local_time=clock.dt.strftime("%H:%M"),
        new_device_hours=settings.risk.new_device_seconds / SECONDS_PER_HOUR,
    )
    scored = frame.get("anomaly_points", pd.Series(0, index=frame.index)).fillna(0) > 0
    return _sentences(
        extra,
        [
            (scored & (extra[column].fillna(0) > 0), said.text(language))
            for column, said in ANOMALY_REASONS
            if column in extra
        ],
        decimal_comma=language == "pt",
    )


def reasons(
    frame: pd.DataFrame,
    templates: Mapping[str, str] = REASONS,
    decimal_comma: bool = False,
) -> pd.Series:
    """One readable sentence per rule that fired, joined by '; '."""
    return _sentences(
        frame,
        [(frame[f"is_{rule}"] == 1, templates[rule]) for rule in RULES],
        decimal_comma,
    )


def _sentences(
    frame: pd.DataFrame,
    clauses: Sequence[tuple[pd.Series, str]],
    decimal_comma: bool = False,
) -> pd.Series:
    """Per row, the templates whose condition holds, filled from the row and
    joined by '; ' in the order given. Each template reads only its own
    fields of only its own rows: turning every cell of a wide frame into a
    Python value cost more than the formatting."""
    formatter = ReasonFormatter(decimal_comma)
    parts: list[list[str]] = [[] for _ in range(len(frame))]
    for condition, template in clauses:
        positions = condition.to_numpy(dtype=bool, na_value=False).nonzero()[0]
        if not len(positions):
            continue
        fields = sorted({name for _, name, _, _ in formatter.parse(template) if name})
        cells = frame.iloc[positions][fields]
        rows = cells.astype(object).where(cells.notna(), None).to_dict("records")
        for position, row in zip(positions, rows, strict=True):
            parts[position].append(formatter.format(template, **row))
    text = ["; ".join(sentences) for sentences in parts]
    return pd.Series(text, index=frame.index, dtype="string")
