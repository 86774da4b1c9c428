"""CSV exports people open in spreadsheets: ISO-8601 times, UTF-8, no formulas.

Google Sheets (and Excel) run a cell that starts with ``=``, ``+``, ``-``,
``@``, tab or carriage return as a formula (CSV injection, OWASP). Text cells
that start so get a leading apostrophe; numeric columns stay numbers, so a
longitude of -38.5 is still a number in the sheet.
"""

from __future__ import annotations

import math
import os
import string
from pathlib import Path
from typing import Any

import pandas as pd

from ssa.rules import RULES

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso_local(epoch: pd.Series, utc_offset_seconds: int) -> pd.Series:
    """Epoch seconds as ISO-8601 local time: 2026-10-01T08:15:00-03:00."""
    sign = "-" if utc_offset_seconds < 0 else "+"
    hours, minutes = divmod(abs(utc_offset_seconds) // 60, 60)
    suffix = f"{sign}{hours:02d}:{minutes:02d}"
    local = pd.to_datetime(epoch + utc_offset_seconds, unit="s")
    text = local.dt.strftime("%Y-%m-%dT%H:%M:%S") + suffix
    return text.where(epoch.notna(), None)


def local_date(day: pd.Series) -> pd.Series:
    """Local day numbers (days since 1970-01-01) as ISO dates."""
    return pd.to_datetime(day, unit="D").dt.strftime("%Y-%m-%d")


def sheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Neutralise text cells a spreadsheet would evaluate."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            continue
        text = col.astype("string")
        risky = text.str.startswith(FORMULA_START).fillna(False)
        if risky.any():
            out[name] = text.where(~risky, "'" + text)
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> int:
    """Write atomically (temp file + rename): readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sheet_safe(frame).to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    os.replace(tmp, path)
    return len(frame)


def reais(cents: pd.Series) -> pd.Series:
    """Centavos as Brazilian money text: 123456 -> 'R$ 1.234,56'."""
    return (cents.fillna(0).astype(float) / 100).map(_brl)


class _ReasonFormatter(string.Formatter):
    """``{field:reais}`` formats centavos as Brazilian money."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "reais":
            return _brl(float(value) / 100)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "?"
        return super().format_field(value, format_spec)


def _brl(value: float) -> str:
    text = f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"R$ {text}"


# One sentence per rule, from the Silver features that made it fire.
REASONS = {
    "impossible_travel": "moved {distance_km:.1f} km in {minutes_since_prev:.1f}"
    " min ({implied_speed_kmh:.0f} km/h) since the previous payment",
    "mule_pass_through": "sent on {recent_outflow_cents:reais} of"
    " {recent_inflow_cents:reais} received within the hour",
    "card_testing": "{probes_in_window:.0f} tiny online payments on this card"
    " ({declines_in_window:.0f} declined)",
    "mule_fan_in": "payee received from {new_payers_in_window:.0f} new payers"
    " ({new_payer_cents_in_window:reais}) within the hour",
    "first_time_payee": "first payment to this payee, {amount_to_baseline:.1f}x"
    " the payer's recent average; the payee collected"
    " {payee_outsized_first_payments:.0f} such payments in a day",
    "night_pix_limit": "night Pix to people totals {night_running_cents:reais},"
    " over the {night_limit_cents:reais} night limit",
    "new_device": "device first used today; {device_first_day_cents:reais} sent"
    " from it (limit R$ 200 a payment, R$ 1.000 a day)",
    "velocity_burst": "{velocity_count:.0f} transactions within minutes of each other",
    "structuring": "night Pix split to stay just under the"
    " {night_limit_cents:reais} limit",
    "amount_spike": "{amount_cents:reais} is {amount_to_baseline:.1f}x the"
    " customer's recent average, from a new device",
}


def reasons(frame: pd.DataFrame) -> pd.Series:
    """One readable sentence per rule that fired, joined by '; '."""
    formatter = _ReasonFormatter()
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    text = [
        "; ".join(
            formatter.format(REASONS[rule], **row)
            for rule in RULES
            if row[f"is_{rule}"] == 1
        )
        for row in rows
    ]
    return pd.Series(text, index=frame.index, dtype="string")
