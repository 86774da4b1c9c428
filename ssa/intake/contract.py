"""The input contract for raw CSV drops, and the parsers that enforce it.

Operations teams export transactions from other systems; Brazilian
spreadsheets write ``;`` delimiters and decimal commas, core systems write
ISO-8601 with an offset, older ones local time without one. The contract
accepts those variants and nothing looser: a value that could mean two things
(``1.234``: one real or a thousand?) is rejected with a reason, never guessed.

Each parser takes a column of raw text (``""`` for an empty cell) and returns
the typed values plus, per row, the problem found (``None`` when fine), so
validation can collect every reason a row fails at once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_AMOUNT_DIGITS = 12  # R$ 999.999.999.999,99: beyond any single payment


@dataclass(frozen=True)
class Column:
    """One contract column: its CSV name, whether a file must carry it, docs."""

    name: str
    required: bool
    kind: str
    description: str
    max_length: int | None = None


COLUMNS: tuple[Column, ...] = (
    Column("transaction_id", True, "text", "Unique id of the transaction.", 64),
    Column(
        "created_at",
        True,
        "time",
        "When it happened: ISO-8601 with offset (2026-10-01T08:15:00-03:00, "
        "...Z) or without (then local time in America/Bahia).",
    ),
    Column("customer_id", True, "text", "The paying customer.", 32),
    Column("channel", True, "enum", "pix, credit, debit or boleto."),
    Column(
        "amount",
        True,
        "money",
        "Reais, more than zero: 1234.56 or 1.234,56 (decimal comma); "
        "an optional 'R$' is allowed.",
    ),
    Column(
        "bairro",
        False,
        "text",
        "Salvador bairro (official name, accents and case ignored); gives the "
        "coordinates when lat/lon are missing.",
        64,
    ),
    Column("lat", False, "coordinate", "Latitude, decimal degrees (WGS 84)."),
    Column("lon", False, "coordinate", "Longitude, decimal degrees (WGS 84)."),
    Column(
        "payer_type",
        False,
        "enum",
        "PF or PJ; empty when not exported, and then the rules that judge "
        "only people (the night limit, the Pix network) do not judge the row.",
    ),
    Column("payee_id", False, "text", "Customer or merchant paid.", 64),
    Column("payee_type", False, "enum", "PF (person) or PJ (company)."),
    Column(
        "is_same_owner",
        False,
        "flag",
        "1 when payer and payee are the same owner (0/1, true/false, sim/não).",
    ),
    Column("merchant_id", False, "text", "Merchant, for purchases.", 64),
    Column("category", False, "text", "Merchant category.", 32),
    Column("card_id", False, "text", "Card used (card channels).", 64),
    Column("entry_mode", False, "enum", "present or not_present (card channels)."),
    Column(
        "auth_status",
        False,
        "enum",
        "approved or declined; empty when not exported (card testing then "
        "counts attempts without their declines).",
    ),
    Column("device_id", False, "text", "Device the payment came from.", 64),
    Column(
        "device_first_seen_at",
        False,
        "time",
        "First use of that device, same formats as created_at.",
    ),
)

BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
OPTIONAL = tuple(c.name for c in COLUMNS if not c.required)
# A file must say where each payment happened, one way or the other.
LOCATION_ALTERNATIVES = (("bairro",), ("lat", "lon"))

ENUMS: dict[str, dict[str, str]] = {
    "channel": {v: v for v in ("pix", "credit", "debit", "boleto")},
    "payer_type": {"pf": "PF", "pj": "PJ"},
    "payee_type": {"pf": "PF", "pj": "PJ"},
    "entry_mode": {
        "present": "present",
        "not_present": "not_present",
        "not present": "not_present",
        "not-present": "not_present",
    },
    "auth_status": {"approved": "approved", "declined": "declined"},
}
FLAGS = {
    "1": 1,
    "0": 0,
    "true": 1,
    "false": 0,
    "sim": 1,
    "não": 0,
    "nao": 0,
    "s": 1,
    "n": 0,
    "yes": 1,
    "no": 0,
}

_BR_MONEY = re.compile(r"(?:\d{1,3}(?:\.\d{3})+|\d+),\d{1,2}")
_DOT_MONEY = re.compile(r"\d+(?:\.\d{1,2})?")
_AMBIGUOUS_MONEY = re.compile(r"\d{1,3}(?:\.\d{3})+")
# C0 control characters a text cell must not hold: tab and the line breaks a
# quoted field may carry are fine; a NUL cuts the value short in C tools and
# spreadsheets, the others are invisible.
CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ISO_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)


def normalise_name(text: str) -> str:
    """Bairro names compared without accents, case or extra spaces."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def problem_where(mask: pd.Series, message: pd.Series | str) -> pd.Series:
    """The message where mask holds, None elsewhere."""
    out = pd.Series(None, index=mask.index, dtype=object)
    if isinstance(message, str):
        out[mask] = message
    else:
        out[mask] = message[mask]
    return out


def _quoted(column: str, raw: pd.Series) -> pd.Series:
    return column + " '" + raw.astype(object).astype(str) + "'"


def parse_amount_cents(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Reais text to integer centavos, exactly (no float on the way)."""
    text = raw.str.replace("\u00a0", " ", regex=False).str.strip()
    text = text.str.replace(r"^R\$\s*", "", regex=True)
    negative = text.str.startswith("-")
    unsigned = text.str.lstrip("-").str.strip()
    is_br = unsigned.str.fullmatch(_BR_MONEY.pattern)
    is_dot = unsigned.str.fullmatch(_DOT_MONEY.pattern)
    canonical = unsigned.where(is_dot, "").mask(
        is_br, unsigned.str.replace(".", "", regex=False).str.replace(",", ".")
    )
    parsed = is_br | is_dot
    pieces = canonical.str.split(".", n=1)
    whole = pieces.str[0]
    frac = pieces.str[1].fillna("").str.ljust(2, "0")
    too_big = parsed & (whole.str.len() > MAX_AMOUNT_DIGITS)
    good = parsed & ~too_big
    cents = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    cents[good] = whole[good].astype(np.int64) * 100 + frac[good].astype(np.int64)
    cents = cents.mask(negative & good, -cents)
    not_positive = good & (cents.fillna(1) <= 0)
    ambiguous = unsigned.str.fullmatch(_AMBIGUOUS_MONEY.pattern)
    problem = first_problem(
        problem_where(
            ambiguous,
            _quoted("amount", raw)
            + " is ambiguous (a thousand or one real?): write 1234.00 or 1.234,00",
        ),
        problem_where(
            ~parsed & (text != ""),
            _quoted("amount", raw)
            + " is not a number in the contract (1234.56 or 1.234,56)",
        ),
        problem_where(not_positive, _quoted("amount", raw) + " must be more than zero"),
        problem_where(too_big, _quoted("amount", raw) + " is too large"),
    )
    return cents.mask(problem.notna()), problem


def first_problem(*problems: pd.Series) -> pd.Series:
    """Per row, the first problem found (None when there is none)."""
    out = problems[0]
    for more in problems[1:]:
        out = out.where(out.notna(), more)
    return out


def parse_epoch(
    raw: pd.Series, column: str, utc_offset_seconds: int
) -> tuple[pd.Series, pd.Series]:
    """ISO-8601 text to UTC epoch seconds; naive times are local (UTC-3)."""
    text = raw.str.strip().str.upper()
    shape_ok = text.str.fullmatch(_ISO_TIME.pattern)
    zone = text.str.extract(f"^(?:{_ISO_TIME.pattern})$")["zone"]
    aware = shape_ok & zone.notna()
    naive = shape_ok & zone.isna()
    epoch = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    if aware.any():
        stamps = pd.to_datetime(
            text[aware], format="ISO8601", utc=True, errors="coerce"
        )
        epoch[aware] = epoch_seconds(stamps, utc=True)
    if naive.any():
        stamps = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        epoch[naive] = epoch_seconds(stamps, utc=False) - utc_offset_seconds
    problem = problem_where(
        epoch.isna() & (text != ""),
        _quoted(column, raw) + " is not an ISO-8601 date and time",
    )
    return epoch, problem


def epoch_seconds(stamps: pd.Series, *, utc: bool) -> pd.Series:
    """Whole seconds since 1970 of parsed times, UTC-aware or naive."""
    origin = pd.Timestamp("1970-01-01", tz="UTC" if utc else None)
    seconds = (stamps - origin) // pd.Timedelta(seconds=1)
    return seconds.astype("Int64")


def parse_enum(raw: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    """Case-insensitive match against the contract's values."""
    allowed = ENUMS[column]
    key = raw.str.strip().str.lower()
    value = key.map(allowed)
    values = ", ".join(dict.fromkeys(allowed.values()))
    problem = problem_where(
        value.isna() & (key != ""),
        _quoted(column, raw) + f" is not one of {values}",
    )
    return value.astype(object).where(value.notna(), None), problem


def parse_flag(raw: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    key = raw.str.strip().str.lower()
    value = key.map(FLAGS).astype("Int64")
    problem = problem_where(
        value.isna() & (key != ""),
        _quoted(column, raw) + " is not a yes/no value (1/0, true/false, sim/não)",
    )
    return value, problem


# Degrees either side of zero a coordinate can take.
COORDINATE_LIMITS = {"lat": 90.0, "lon": 180.0}


def value_problem(column: str, value: str) -> str | None:
    """What the contract says of one value for a column, None when it takes it.

    A source mapping's constants and value-map targets go on every row they
    reach: checked once here, a wrong one stops the mapping before a file is
    read instead of rejecting each of its rows for the same reason."""
    raw = pd.Series([value], dtype="str")
    kind = BY_NAME[column].kind
    if kind == "enum":
        _, problem = parse_enum(raw, column)
    elif kind == "flag":
        _, problem = parse_flag(raw, column)
    elif kind == "coordinate":
        _, problem = parse_coordinate(raw, column, COORDINATE_LIMITS[column])
    elif kind == "time":
        _, problem = parse_epoch(raw, column, 0)
    else:
        _, problem = parse_text(raw, column)
    found = problem.iloc[0]
    return found if isinstance(found, str) else None


def parse_coordinate(
    raw: pd.Series, column: str, limit: float
) -> tuple[pd.Series, pd.Series]:
    """Decimal degrees; a decimal comma (-12,97) is accepted."""
    text = raw.str.strip().str.replace(",", ".", regex=False)
    value = pd.to_numeric(text.where(text != "", None), errors="coerce")
    value = value.where(value.abs() <= limit)
    problem = problem_where(
        value.isna() & (text != ""),
        _quoted(column, raw) + f" is not a coordinate within ±{limit:g}",
    )
    return value.astype("Float64"), problem


def parse_text(raw: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    """Trimmed text, None when empty; too long for the warehouse is a problem."""
    text = raw.str.strip()
    value = text.astype(object).where(text != "", None)
    limit = BY_NAME[column].max_length
    if limit is None:
        return value, problem_where(pd.Series(False, index=raw.index), "")
    problem = problem_where(
        text.str.len() > limit, f"{column} is longer than {limit} characters"
    )
    return value, problem


def control_problem(raw: pd.Series, column: str) -> pd.Series:
    """A cell holding a C0 control character, named by its code point."""
    found = raw.str.extract(f"({CONTROL_CHARS.pattern})", expand=False)
    has = found.notna()
    if not has.any():
        return problem_where(has, "")
    codes = found[has].map(lambda ch: f"U+{ord(ch):04X}")
    return problem_where(
        has, column + " holds the control character " + codes.reindex(raw.index)
    )
