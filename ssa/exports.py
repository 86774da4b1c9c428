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


def reasons(frame: pd.DataFrame) -> pd.Series:
    """One readable sentence per rule that fired, joined by '; '."""
    parts: list[pd.Series] = []
    empty = pd.Series("", index=frame.index)
    travel = (
        "moved "
        + frame["distance_km"].round(1).astype(str)
        + " km in "
        + frame["minutes_since_prev"].round(1).astype(str)
        + " min ("
        + frame["implied_speed_kmh"].fillna(np.inf).round(0).astype(str)
        + " km/h) from the previous transaction"
    )
    parts.append(travel.where(frame["is_impossible_travel"] == 1, empty))
    testing = (
        frame["tiny_online_card_count"].astype("Int64").astype(str)
        + " tiny online card payments around this one (card testing)"
    )
    parts.append(testing.where(frame["is_card_testing"] == 1, empty))
    night = (
        "night Pix to people totals "
        + reais(frame["night_pf_pix_total_cents"])
        + ", over the "
        + reais(frame["night_limit_cents"])
        + " night limit"
    )
    parts.append(night.where(frame["is_night_pix_limit"] == 1, empty))
    burst = (
        frame["velocity_count"].astype("Int64").astype(str)
        + " transactions within minutes of each other"
    )
    parts.append(burst.where(frame["is_velocity_burst"] == 1, empty))
    spike = (
        reais(frame["amount_cents"])
        + " is "
        + frame["amount_to_baseline"].round(1).astype(str)
        + "x the customer's recent average, from a new device"
    )
    parts.append(spike.where(frame["is_amount_spike"] == 1, empty))
    joined = pd.concat(parts, axis=1).apply(
        lambda row: "; ".join(p for p in row if p), axis=1
    )
    return joined if len(frame) else pd.Series(dtype="string")
