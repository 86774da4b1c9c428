"""Epoch seconds and the local calendar, in Python as ``sql/macros/local_time.sql``
says them in SQL.

Times are epoch seconds everywhere; the local calendar is a fixed offset from
UTC (``settings.rules.utc_offset_seconds``: America/Bahia keeps no daylight
saving). A local day is a whole number of days since 1970-01-01, counted from
local midnight, so the generator, the risk model's windows, the exports and
the dashboard cut days where the models do.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TypeVar

import numpy as np
import pandas as pd

SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600
_EPOCH = date(1970, 1, 1)

# One epoch second, or many of them at once (generator columns, frames).
Epochs = TypeVar("Epochs", int, np.ndarray, pd.Series)


def local_day(epoch: Epochs, utc_offset_seconds: int) -> Epochs:
    """The local day (days since 1970-01-01) of each epoch second."""
    return (epoch + utc_offset_seconds) // SECONDS_PER_DAY


def local_hour(epoch: Epochs, utc_offset_seconds: int) -> Epochs:
    """The local hour (0-23) of each epoch second."""
    return ((epoch + utc_offset_seconds) % SECONDS_PER_DAY) // SECONDS_PER_HOUR


def day_number(day: date) -> int:
    """A date as the local day number the tables store."""
    return (day - _EPOCH).days


def day_date(number: int) -> date:
    """A local day number as its date."""
    return _EPOCH + timedelta(days=int(number))


def date_at(epoch: int, utc_offset_seconds: int) -> date:
    """The local date of one epoch second."""
    return day_date(local_day(int(epoch), utc_offset_seconds))


def midnight(day: int, utc_offset_seconds: int) -> int:
    """The epoch second of 00:00 local time on a local day number."""
    return day * SECONDS_PER_DAY - utc_offset_seconds


def local_epoch(moment: datetime, utc_offset_seconds: int) -> int:
    """The epoch second of a date-time: one without an offset is read on the
    local clock, one with an offset (``2013-09-02T12:00+02:00``) as it says."""
    if moment.utcoffset() is not None:
        seconds = moment.utcoffset().total_seconds()
        wall, utc_offset_seconds = moment.replace(tzinfo=None), int(seconds)
    else:
        wall = moment
    return (wall - datetime(1970, 1, 1)) // timedelta(seconds=1) - utc_offset_seconds


def local_minute(epoch: int, utc_offset_seconds: int) -> str:
    """One epoch second as the local clock says it, to the minute:
    2013-09-02T12:00."""
    wall = datetime(1970, 1, 1) + timedelta(seconds=int(epoch) + utc_offset_seconds)
    return wall.strftime("%Y-%m-%dT%H:%M")


def utc_suffix(utc_offset_seconds: int) -> str:
    """The offset as ISO-8601 writes it after a local time: -03:00."""
    sign = "-" if utc_offset_seconds < 0 else "+"
    hours, minutes = divmod(abs(utc_offset_seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def iso_local(epoch: pd.Series, utc_offset_seconds: int) -> pd.Series:
    """Epoch seconds as ISO-8601 local time: 2026-10-01T08:15:00-03:00."""
    suffix = utc_suffix(utc_offset_seconds)
    local = pd.to_datetime(epoch + utc_offset_seconds, unit="s")
    text = local.dt.strftime("%Y-%m-%dT%H:%M:%S") + suffix
    return text.where(epoch.notna(), None)


def local_date(day: pd.Series) -> pd.Series:
    """Local day numbers (days since 1970-01-01) as ISO dates."""
    return pd.to_datetime(day, unit="D").dt.strftime("%Y-%m-%d")
