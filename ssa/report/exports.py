"""CSV exports people open in spreadsheets: ISO-8601 times, UTF-8, no formulas.

Google Sheets (and Excel) run a cell that starts with ``=``, ``+``, ``-``,
``@``, tab or carriage return as a formula (CSV injection, OWASP). Text cells
that start so get a leading apostrophe; numeric columns stay numbers, so a
longitude of -38.5 is still a number in the sheet.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ssa.intake.contract import CONTROL_CHARS
from ssa.rules import DETECTION_RULES, RULES

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso_local(epoch: pd.Series, utc_offset_seconds: int) -> pd.Series:
    """Epoch seconds as ISO-8601 local time: 2026-10-01T08:15:00-03:00."""
    suffix = utc_suffix(utc_offset_seconds)
    local = pd.to_datetime(epoch + utc_offset_seconds, unit="s")
    text = local.dt.strftime("%Y-%m-%dT%H:%M:%S") + suffix
    return text.where(epoch.notna(), None)


def local_date(day: pd.Series) -> pd.Series:
    """Local day numbers (days since 1970-01-01) as ISO dates."""
    return pd.to_datetime(day, unit="D").dt.strftime("%Y-%m-%d")


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
            if (values == values.round()).all() and values.abs().lt(2**53).all():
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


def export_columns(
    columns: Sequence[str], iso_times: Mapping[str, str]
) -> list[tuple[str, str | None]]:
    """A table export's columns in order, as (name, epoch column it shows as
    ISO-8601 local time, or None); each time comes right before its epoch."""
    out: list[tuple[str, str | None]] = []
    for name in columns:
        out += [(new, name) for new, source in iso_times.items() if source == name]
        out.append((name, None))
    return out


def utc_suffix(utc_offset_seconds: int) -> str:
    sign = "-" if utc_offset_seconds < 0 else "+"
    hours, minutes = divmod(abs(utc_offset_seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


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


def reais(cents: pd.Series) -> pd.Series:
    """Centavos as Brazilian money text: 123456 -> 'R$ 1.234,56'."""
    return (cents.fillna(0).astype(float) / 100).map(brl)


class _ReasonFormatter(string.Formatter):
    """``{field:reais}`` formats centavos as Brazilian money; with
    ``decimal_comma`` (the Portuguese sentences) numbers read 3,2, not 3.2."""

    def __init__(self, decimal_comma: bool = False) -> None:
        super().__init__()
        self.decimal_comma = decimal_comma

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "reais":
            return brl(float(value) / 100)
        if format_spec == "grouped":
            text = grouped(float(value))
            return _swap_separators(text) if self.decimal_comma else text
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "?"
        text = super().format_field(value, format_spec)
        if self.decimal_comma and isinstance(value, numbers.Number):
            text = text.replace(".", ",")
        return text


def grouped(value: float) -> str:
    """A number of a source's own column as a reason says it, in English:
    thousands grouped, two decimals (four below one, where the digits are),
    and powers of ten past a thousand billion."""
    if abs(value) >= 1e15:
        return f"{value:.3e}"
    return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4f}"


def _swap_separators(text: str) -> str:
    """'181,000.00' -> '181.000,00': Portuguese groups with '.', not ','."""
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


class _Verbatim(string.Formatter):
    """Fields already formatted (read back from a sentence) go in as they are."""

    def format_field(self, value: Any, format_spec: str) -> str:
        return str(value)


Language = Literal["en", "pt"]
_FORMATTERS = {"en": _ReasonFormatter(), "pt": _ReasonFormatter(decimal_comma=True)}
# What a template's field matches in the text it made, by format spec.
_MONEY = r"R\$ -?[\d.]+,\d{2}"
_NUMBER = r"-?\d+(?:\.\d+)?"
_GROUPED = r"-?(?:\d\.\d{3}e[+-]\d+|\d{1,3}(?:,\d{3})*(?:\.\d+)?)"
_STRFTIME = {"%H": r"\d{2}", "%M": r"\d{2}", "%d": r"\d{2}", "%m": r"\d{2}"}


def _field_pattern(spec: str) -> str:
    if spec == "reais":
        return _MONEY
    if spec == "grouped":
        return _GROUPED
    if "%" in spec:
        return "".join(
            _STRFTIME.get(part, ".+?") if part.startswith("%") else re.escape(part)
            for part in re.split(r"(%\w)", spec)
        )
    if spec and spec[-1] in "dfg":
        return _NUMBER
    return ".+?"


@functools.cache
def _grouped_fields(template: str) -> frozenset[str]:
    """The fields of ``template`` written grouped (``{value:grouped}``)."""
    return frozenset(
        name
        for _, name, spec, _ in string.Formatter().parse(template)
        if name is not None and spec == "grouped"
    )


@functools.cache
def _template_pattern(template: str) -> tuple[re.Pattern[str], frozenset[str]]:
    """The regular expression of what ``template`` writes, and its numeric
    fields (written with a decimal point, read back to be said with a comma)."""
    parts, seen, numeric = [], set(), set()
    for literal, name, spec, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name in seen:
            parts.append(f"(?P={name})")
            continue
        seen.add(name)
        pattern = _field_pattern(spec or "")
        if pattern == _NUMBER:
            numeric.add(name)
        parts.append(f"(?P<{name}>{pattern})")
    return re.compile("".join(parts)), frozenset(numeric)


@dataclass(frozen=True)
class Said:
    """One sentence in English (the CSVs', the logs', the report's) and in
    Portuguese (the dashboard's), filled from the same fields: a sentence is
    written once, in both languages side by side."""

    en: str
    pt: str

    def text(self, language: Language) -> str:
        return self.pt if language == "pt" else self.en

    def fill(self, language: Language, **fields: Any) -> str:
        """The sentence in ``language``; Portuguese with decimal commas."""
        return _FORMATTERS[language].format(self.text(language), **fields)

    def portuguese_of(self, text: str) -> str | None:
        """The Portuguese of ``text`` when it is this sentence's English
        (stored text, whose fields are gone: they are read back from it);
        None when it is not."""
        pattern, numeric = _template_pattern(self.en)
        found = pattern.fullmatch(text)
        if found is None:
            return None
        swapped = _grouped_fields(self.en)
        fields = {
            name: _swap_separators(value)
            if name in swapped
            else value.replace(".", ",")
            if name in numeric
            else value
            for name, value in found.groupdict().items()
        }
        return _Verbatim().format(self.pt, **fields)


def in_portuguese(text: str, sentences: Iterable[Said], sep: str = "; ") -> str:
    """Each part of ``text`` that one of ``sentences`` says in English, in
    Portuguese; a part none of them says stays as it is."""
    known = tuple(sentences)
    out = []
    for part in text.split(sep):
        said = next(
            (t for s in known if (t := s.portuguese_of(part)) is not None), part
        )
        out.append(said)
    return sep.join(out)


def brl(value: float) -> str:
    """Reais as Brazilian money text: 1234.56 -> 'R$ 1.234,56'."""
    text = f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"R$ {text}"


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
            "first purchase in this category ({category})",
            "primeira compra nesta categoria ({category})",
        ),
    ),
    (
        "has_recent_device",
        Said(
            "from a device first seen in the last 24 h",
            "de um dispositivo visto pela primeira vez nas últimas 24 h",
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
    frame: pd.DataFrame, utc_offset_seconds: int, language: Language = "en"
) -> pd.Series:
    """What made the anomaly score of each row, in words; empty where it
    scored nothing."""
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
    formatter = _ReasonFormatter(decimal_comma)
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
