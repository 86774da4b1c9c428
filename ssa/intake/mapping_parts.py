"""The sections every mapping is built of: how a file is read, a value map,
an id built from several columns, a time, a set of values matched loosely.

A source's payments (``ssa/intake/source_mapping.py``) and its reported
fraud (``ssa/intake/report_mapping.py``) come from different systems, each
with its own layout, but name their columns, times and values the same way:
one definition of each, so a rule learnt for one holds for the other.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from ssa.intake import contract
from ssa.intake.drop_file import QUOTE


class Strict(BaseModel):
    """Unknown keys are typos, not silent defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FileFormat(Strict):
    """How the bytes are read: declared, never guessed."""

    encoding: Literal["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"] = Field(
        "utf-8",
        description="Excel's 'CSV' on a Brazilian Windows is cp1252; "
        "'CSV UTF-8' is utf-8-sig; 'Unicode text' is utf-16.",
    )
    delimiter: str = Field(",", min_length=1, max_length=1)
    quote: str = Field(
        QUOTE,
        min_length=1,
        max_length=1,
        description="The character a cell is quoted in: BankSim writes "
        "'es_travel' in single quotes, which would otherwise stay in the value.",
    )
    header_line: int = Field(
        1, ge=1, le=1000, description="Line of the header; lines above it are titles."
    )
    skip_columns: tuple[str, ...] = Field(
        (),
        description="Source columns to leave out; '' is an unnamed column "
        "(the index pandas writes first).",
    )

    @model_validator(mode="after")
    def _quote_apart(self) -> FileFormat:
        if self.quote == self.delimiter:
            raise ValueError(
                f"quote {self.quote!r} is also the delimiter: a quoted cell "
                "could not hold one"
            )
        return self


class ValueMap(Strict):
    """A contract column from a source column's values."""

    source: str = Field(alias="from", min_length=1)
    map: dict[str, str] = Field(
        default_factory=dict,
        description="Exact source values (case and spaces ignored) to contract text.",
    )
    patterns: dict[str, str] = Field(
        default_factory=dict,
        description="Shell-style patterns ('*_net', '??.???.???/????-??'), "
        "tried in order after map; the first match gives the value.",
    )
    default: str | None = Field(
        None,
        description="Value for anything else ('' leaves the field empty); "
        "without it, an unmapped value rejects the row.",
    )

    @model_validator(mode="after")
    def _maps_something(self) -> ValueMap:
        if not self.map and not self.patterns and self.default is None:
            raise ValueError("give map, patterns or default")
        return self

    @cached_property
    def pattern_regexes(self) -> tuple[tuple[re.Pattern[str], str], ...]:
        return tuple(
            (re.compile(glob_regex(p), re.IGNORECASE), v)
            for p, v in self.patterns.items()
        )


class IdSpec(Strict):
    """An id built from several columns (a customer with no usable card number)."""

    source: tuple[str, ...] = Field(alias="from", min_length=1)
    separator: str = "|"
    hash: bool = Field(
        True,
        description="Store a digest, not the joined text: names, addresses and "
        "card numbers are personal data (LGPD) and PANs must not be kept in "
        "clear (PCI DSS).",
    )


def _iso_text(value: object) -> object:
    """YAML reads an unquoted 2014-01-01 as a date and 2014-01-01T06:00:00Z
    as a datetime: either is taken as the text it was written as."""
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()
    return value


# Seconds in each unit an epoch column may count in: event streams count
# milliseconds, simulations such as PaySim an hour index.
# Each unit as (multiplier, divisor) to whole seconds, in integers.
EPOCH_UNITS = {
    "milliseconds": (1, 1_000),
    "seconds": (1, 1),
    "minutes": (60, 1),
    "hours": (3_600, 1),
    "days": (86_400, 1),
}
EpochUnit = Literal["milliseconds", "seconds", "minutes", "hours", "days"]


class TimeSpec(Strict):
    """When it happened: text in a strptime format and zone, or an epoch
    column in a declared unit."""

    column: str | tuple[str, ...] | None = Field(
        None,
        description="The column of the time, or several joined by one space "
        "(a date column and a time column: [Data, Hora]).",
    )
    format: str | None = Field(
        None,
        description="strptime, e.g. '%d/%m/%Y %H:%M'; with %z the text carries "
        "its UTC offset and no timezone is given.",
    )
    timezone: str | None = Field(
        None, description="IANA zone of that local time, e.g. America/Sao_Paulo."
    )
    epoch_column: str | None = None
    epoch_unit: EpochUnit = Field(
        "seconds",
        description="What one step of the epoch column is: PaySim's 'step' "
        "counts hours, event streams milliseconds.",
    )
    epoch_offset_seconds: int = Field(
        0, description="Added, in seconds, to the epoch column to get UTC."
    )
    epoch_start: Annotated[str | None, BeforeValidator(_iso_text)] = Field(
        None,
        description="The epoch column's 0 as a local date ('2014-01-01', its "
        "midnight) or time ('2014-01-01T06:00') in timezone, or with its own "
        "offset ('...-03:00', 'Z'): BankSim's step is a day with no date. "
        "Days count calendar days in that zone; other units, elapsed time.",
    )

    @property
    def offset_in_text(self) -> bool:
        """The format reads a UTC offset (%z), so the text alone is an instant."""
        return "%z" in (self.format or "")

    @model_validator(mode="after")
    def _one_way(self) -> TimeSpec:
        text = (self.column, self.format, self.timezone)
        if self.epoch_column is not None:
            if self.column is not None or self.format is not None:
                raise ValueError(
                    "give either column + format + timezone, or epoch_column"
                )
            if self.epoch_start is None:
                if self.timezone is not None:
                    raise ValueError(
                        "timezone goes with column and format, or with epoch_start"
                    )
                return self
            if self.epoch_offset_seconds:
                raise ValueError("give epoch_start or epoch_offset_seconds, not both")
            _ = self.start  # checked here, so no row meets a bad one
            return self
        if self.epoch_start is not None:
            raise ValueError("epoch_start goes with epoch_column")
        if self.offset_in_text:
            if self.timezone is not None:
                raise ValueError(
                    "the format reads the UTC offset (%z): leave out timezone"
                )
            if self.column is None:
                raise ValueError("give column and format (or epoch_column)")
            return self
        if any(v is None for v in text):
            raise ValueError("give column, format and timezone (or epoch_column)")
        _zone(str(self.timezone))
        return self

    @cached_property
    def start(self) -> pd.Timestamp | None:
        """``epoch_start`` as an instant in its zone (None without one), or
        ValueError saying what it should be: a day index is a local day, so
        its 0 is a local midnight, not 00:00 UTC (21:00 the day before in
        Salvador)."""
        if self.epoch_start is None:
            return None
        given = self.epoch_start
        try:
            stamp = pd.Timestamp(datetime.fromisoformat(given))
        except ValueError:
            raise ValueError(
                f"epoch_start {given!r} is not a date (2014-01-01) or a time "
                "(2014-01-01T06:00, an offset such as -03:00 allowed)"
            ) from None
        if stamp.tzinfo is not None:
            if self.timezone is not None:
                raise ValueError(
                    f"epoch_start {given!r} carries its UTC offset: leave out timezone"
                )
            return stamp
        if self.timezone is None:
            raise ValueError(
                f"epoch_start {given!r} is a local date or time: give "
                "timezone, the zone it is read in"
            )
        zone = _zone(self.timezone)
        try:
            return stamp.tz_localize(zone, ambiguous="raise", nonexistent="raise")
        except ValueError as exc:
            raise ValueError(
                f"epoch_start {given!r} does not exist or is ambiguous in "
                f"{self.timezone} (a daylight-saving change): give another "
                "time of that day"
            ) from exc

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The source columns it reads, in order."""
        if self.epoch_column is not None:
            return (self.epoch_column,)
        if isinstance(self.column, tuple):
            return self.column
        return (str(self.column),)


def _zone(name: str) -> ZoneInfo:
    """The IANA zone, or ValueError saying what a zone looks like."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"timezone {name!r} is not an IANA zone "
            "(e.g. America/Bahia, America/Sao_Paulo, UTC)"
        ) from exc


class ValueSet:
    """Values compared as ``values.map`` compares them (case, accents and
    extra spaces ignored) and shell-style patterns (as ``values.patterns``):
    what ``skip`` and a report's outcome lists match cells against."""

    def __init__(
        self, exact: frozenset[str], patterns: tuple[re.Pattern[str], ...]
    ) -> None:
        self.exact = exact
        self.patterns = patterns

    @classmethod
    def of(cls, values: tuple[str, ...]) -> ValueSet:
        """Values with '*' or '?' are patterns; the others exact."""
        stripped = [v.strip() for v in values]
        globbed = [v for v in stripped if "*" in v or "?" in v]
        exact = [v for v in stripped if v not in globbed]
        return cls(
            frozenset(contract.normalise_name(v) for v in exact),
            tuple(re.compile(glob_regex(p), re.IGNORECASE) for p in globbed),
        )

    def matches(self, value: str) -> bool:
        """Whether a cell (already stripped) is one of the values."""
        if not value:
            return False
        if contract.normalise_name(value) in self.exact:
            return True
        return any(p.fullmatch(value) for p in self.patterns)


def quoted_values(label: str, given: object) -> object:
    """One value may be written without a list; a number must be quoted:
    YAML reads ``0.00`` as the number 0.0, and a cell is matched as text."""
    listed = [given] if isinstance(given, str) else given
    if isinstance(listed, list | tuple):
        for item in listed:
            if isinstance(item, bool | int | float):
                raise ValueError(
                    f"{label}: quote each value as the file writes "
                    f"it: YAML read one as the number {item!r}, and "
                    "a cell is matched as text ('0.00' is not '0')"
                )
    return listed


def glob_regex(pattern: str) -> str:
    """'*' any text, '?' one character, everything else literal."""
    parts = (
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern
    )
    return "".join(parts)


def skip_lists(value: object) -> object:
    """A ``skip`` section as written: one value may stand without a list; a
    number must be quoted."""
    if not isinstance(value, dict):
        return value
    return {column: quoted_values(column, given) for column, given in value.items()}


def skip_values(value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """A ``skip`` section checked: named columns, each with values, none
    empty (a missing value is a reason to reject a row, not to skip it)."""
    for column, listed in value.items():
        if not column.strip():
            raise ValueError("a column name is empty")
        if not listed:
            raise ValueError(f"{column}: give the values to skip")
        if any(not item.strip() for item in listed):
            raise ValueError(
                f"{column}: an empty value would skip the rows that lack "
                "one; a missing value is a reason to reject the row, not "
                "to skip it"
            )
    return value


# A skip section (a mapping's ``skip``, a report's ``reports.skip``): column
# to the values that leave its rows out, written as the file writes them.
SkipSection = Annotated[
    dict[str, tuple[str, ...]],
    BeforeValidator(skip_lists),
    AfterValidator(skip_values),
]


class SkipRule:
    """One column of a ``skip`` section and the values that leave its rows
    out; ``section`` is the key it sits under (``skip``, ``reports.skip``)."""

    def __init__(self, column: str, values: ValueSet, section: str = "skip") -> None:
        self.column = column
        self.values = values
        self.section = section

    @classmethod
    def of(
        cls, column: str, values: tuple[str, ...], section: str = "skip"
    ) -> SkipRule:
        return cls(column, ValueSet.of(values), section)

    @property
    def key(self) -> str:
        return f"{self.section}.{self.column}"

    def matches(self, value: str) -> bool:
        """Whether a cell (already stripped) is one of the skipped values."""
        return self.values.matches(value)
