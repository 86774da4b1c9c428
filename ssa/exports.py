"""CSV exports people open in spreadsheets: ISO-8601 times, UTF-8, no formulas.

Google Sheets (and Excel) run a cell that starts with ``=``, ``+``, ``-``,
``@``, tab or carriage return as a formula (CSV injection, OWASP). Text cells
that start so get a leading apostrophe; numeric columns stay numbers, so a
longitude of -38.5 is still a number in the sheet.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
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
    values = cents.fillna(0).astype(float) / 100
    text = values.map(lambda v: f"{v:,.2f}")
    return "R$ " + text.str.replace(",", "_").str.replace(".", ",").str.replace(
        "_", "."
    )


def _num(col: pd.Series, digits: int = 1) -> pd.Series:
    return col.astype(float).round(digits).astype(str)


def _int(col: pd.Series) -> pd.Series:
    return col.astype("Int64").astype(str)


# One sentence per rule, built from the Silver features that made it fire.
REASONS = {
    "impossible_travel": lambda f: (
        "moved "
        + _num(f["distance_km"])
        + " km in "
        + _num(f["minutes_since_prev"])
        + " min ("
        + _num(f["implied_speed_kmh"].fillna(np.inf), 0)
        + " km/h) since the previous payment"
    ),
    "mule_pass_through": lambda f: (
        "sent on "
        + reais(f["recent_outflow_cents"])
        + " of "
        + reais(f["recent_inflow_cents"])
        + " received in the last minutes"
    ),
    "card_testing": lambda f: (
        _int(f["probes_in_window"])
        + " tiny online payments on this card ("
        + _int(f["declines_in_window"])
        + " declined)"
    ),
    "mule_fan_in": lambda f: (
        "payee received from "
        + _int(f["new_payers_in_window"])
        + " new payers ("
        + reais(f["new_payer_cents_in_window"])
        + ") within the hour"
    ),
    "first_time_payee": lambda f: (
        "first payment to this payee, "
        + _num(f["amount_cents"] / f["payer_baseline_cents"])
        + "x the payer's Pix average; the payee "
        "collected "
        + _int(f["payee_outsized_first_payments"])
        + " such payments in a day"
    ),
    "night_pix_limit": lambda f: (
        "night Pix to people totals "
        + reais(f["night_running_cents"])
        + ", over the "
        + reais(f["night_limit_cents"])
        + " night limit"
    ),
    "new_device": lambda f: (
        "device first used today; "
        + reais(f["device_first_day_cents"])
        + " sent from it (limit R$ 200 a payment, R$ 1.000 a day)"
    ),
    "velocity_burst": lambda f: (
        _int(f["velocity_count"]) + " transactions within minutes of each other"
    ),
    "structuring": lambda f: (
        "night Pix split to stay just under the "
        + reais(f["night_limit_cents"])
        + " limit"
    ),
    "amount_spike": lambda f: (
        reais(f["amount_cents"])
        + " is "
        + _num(f["amount_to_baseline"])
        + "x the customer's recent average, from a new device"
    ),
}


def reasons(frame: pd.DataFrame) -> pd.Series:
    """One readable sentence per rule that fired, joined by '; '."""
    if frame.empty:
        return pd.Series(dtype="string")
    empty = pd.Series("", index=frame.index)
    parts = [
        REASONS[rule](frame).where(frame[f"is_{rule}"] == 1, empty) for rule in RULES
    ]
    return pd.concat(parts, axis=1).apply(
        lambda row: "; ".join(p for p in row if p), axis=1
    )
