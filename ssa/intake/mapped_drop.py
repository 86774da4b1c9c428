"""A drop in another system's layout, turned into the contract by its mapping.

The output is what validation reads for a native drop: contract columns as
text, plus time and amount already parsed (their formats are the mapping's),
plus each row's mapping problems, each naming the key that failed
(``(sources/sparkov.yaml: time.format)``), so a row is rejected with every
reason at once, as native rows are. Nothing is guessed: a value the mapping
does not cover rejects the row unless the mapping gives a default.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssa.intake import contract, source_features
from ssa.intake.drop_file import DropFile, DropFileError
from ssa.intake.header_hint import header_hint
from ssa.intake.mapping_parts import (
    EPOCH_UNITS,
    FileFormat,
    IdSpec,
    SkipRule,
    TimeSpec,
    ValueMap,
)
from ssa.intake.source_mapping import AmountSpec, Source
from ssa.models import SINCE

# Source amounts are read to 1/10,000 of a unit (some systems print four
# decimals) and converted to centavos once, rounding half to even.
AMOUNT_DECIMALS = 4
AMOUNT_SCALE = 10**AMOUNT_DECIMALS
# Joined ids are stored as the first hex digits of their SHA-256: 80 bits,
# no collision among billions of customers, and within the contract's 32.
ID_DIGEST_CHARS = 20
_CURRENCY_MARKS = r"R\$|US\$|\$|€|£|[A-Z]{3}"


@dataclass(frozen=True)
class Mapped:
    """A mapped drop: contract text, parsed time and amount, lineage, labels."""

    text: pd.DataFrame  # contract columns as text ("" when empty)
    created_at_epoch: pd.Series
    amount_cents: pd.Series
    source_amount: pd.Series  # the amount as the file wrote it
    problems: list[pd.Series]  # per row: None or a reason naming the mapping key
    labels: pd.DataFrame  # transaction_id (text), is_fraud, fraud_type; all rows
    missing_optional: tuple[str, ...]
    ignored_columns: tuple[str, ...]
    # Per row: the declared source features as JSON text, None without any.
    features_json: pd.Series | None = None


def read_columns(source: Source) -> dict[str, str]:
    """Each source column the mapping reads, with the key that reads it."""
    return {
        **source.mapping.source_columns(),
        **source.mapping.feature_columns(),
        **source.mapping.skip_columns(),
    }


def check_header(drop: DropFile, source: Source) -> None:
    """Every column the mapping reads is there, or the file is quarantined."""
    read = read_columns(source)
    require_columns(drop, source, read, source.mapping.file, "file", "an export")


def require_columns(
    drop: DropFile,
    source: Source,
    read: dict[str, str],
    layout: FileFormat,
    layout_key: str,
    kind: str,
) -> None:
    """Each column of ``read`` (column: the key that reads it) is in the
    header, and every header column has a name unless ``layout`` leaves
    unnamed ones out; else DropFileError naming the keys. ``kind`` says
    what file of the source was expected ("an export", "a report"). A
    header that lacks them says where they are when another line, encoding
    or delimiter of the file's first lines holds them all."""
    header = set(drop.header)
    blank = [i + 1 for i, name in enumerate(drop.header) if not name]
    skipped = {c.strip().lower() for c in layout.skip_columns}
    if blank and "" not in skipped:
        raise DropFileError(
            "header",
            f"header column {blank[0]} has no name{_hint(drop, read, layout_key)}",
            f"named columns, or '' in {source.display_path}: {layout_key}.skip_columns",
            f"{len(drop.header)} columns",
        )
    missing = [
        f"'{column}' ({key})"
        for column, key in read.items()
        if column.strip().lower() not in header
    ]
    if missing:
        shown = ", ".join(repr(n) for n in drop.header[:30])
        raise DropFileError(
            "header",
            f"the header lacks {', '.join(missing)} that {source.display_path} "
            f"reads{_hint(drop, read, layout_key)}",
            f"{kind} of source {source.name!r}",
            f"{len(drop.header)} columns: {shown}",
        )


def _hint(drop: DropFile, read: dict[str, str], layout_key: str) -> str:
    """Where the columns are, when a line, encoding or delimiter other than
    the declared ones holds them (``header_hint``); '' otherwise."""
    if drop.layout is None:
        return ""
    declared = drop.layout
    return header_hint(
        declared.head,
        declared.encoding,
        declared.delimiter,
        declared.header_line,
        read,
        layout_key,
    )


def skip_reasons(
    raw: pd.DataFrame,
    source: Source,
    rules: tuple[SkipRule, ...] | None = None,
    what: str = "a payment",
) -> pd.Series:
    """Per row: None, or why the mapping's ``skip`` leaves it out ("type
    'CASH_IN' is not a payment (sources/paysim.yaml: skip.type)"); the first
    column that matches names it. A row is a payment or not by what the
    export says, before any check: a cancelled transfer with a bad amount is
    still not a payment. ``rules`` and ``what``: another section's (a
    report's ``reports.skip``, whose rows are not fraud reports)."""
    reason = pd.Series(None, index=raw.index, dtype=object)
    for rule in source.mapping.skip_rules if rules is None else rules:
        cells = raw[rule.column.strip().lower()].str.strip()
        decided = {value: rule.matches(value) for value in cells.unique()}
        hit = cells.map(decided).astype(bool) & reason.isna()
        if hit.any():
            reason[hit] = (
                f"{rule.column} '"
                + cells[hit]
                + f"' is not {what} {source.where(rule.key)}"
            )
    return reason


def translate(raw: pd.DataFrame, source: Source, utc_offset_seconds: int) -> Mapped:
    """The contract view of a raw frame (source columns, lower-case names)."""
    mapping = source.mapping
    raw = raw.rename(columns=str.lower)

    def column(name: str) -> pd.Series:
        return raw[name.strip().lower()]

    text: dict[str, pd.Series] = {}
    problems: list[pd.Series] = []
    for key, name in mapping.columns.items():
        text[key] = column(name)
    for key, value in mapping.constants.items():
        text[key] = pd.Series(value, index=raw.index, dtype="str")
    for key, spec in mapping.values.items():
        text[key], problem = map_values(column(spec.source), key, spec, source)
        problems.append(problem)
    for key, spec in mapping.ids.items():
        text[key] = joined_id(raw, spec)
    for key, (first, second) in mapping.same.items():
        text[key] = _same(column(first), column(second))
    epoch, problem = parse_time(raw, mapping.time, source)
    problems.append(problem)
    # As the file wrote them, for the contract's plausibility messages.
    text["created_at"] = _time_text(raw, mapping.time)
    text["amount"] = column(mapping.amount.column)
    cents, problem = _parse_amount(
        column(mapping.amount.column), mapping.amount, source
    )
    problems.append(problem)
    labels, problem = _labels(raw, text, source)
    problems.append(problem)
    seconds_before, time_problems = _seconds_before(raw, source, epoch)
    problems.extend(time_problems)
    features_json, feature_problems = source_features.read(raw, source, seconds_before)
    problems.extend(feature_problems)
    produced = set(mapping.produced())
    used = {c.strip().lower() for c in mapping.source_columns()}
    used |= {c.strip().lower() for c in mapping.feature_columns()}
    used |= {c.strip().lower() for c in mapping.label_columns()}
    used |= {c.strip().lower() for c in mapping.file.skip_columns}
    used |= {c.strip().lower() for c in mapping.skip}
    return Mapped(
        text=pd.DataFrame(text, index=raw.index),
        created_at_epoch=epoch,
        amount_cents=cents,
        source_amount=column(mapping.amount.column).str.strip(),
        problems=problems,
        labels=labels,
        missing_optional=tuple(c for c in contract.OPTIONAL if c not in produced),
        ignored_columns=tuple(
            c for c in raw.columns if c not in used and c != "extra_fields"
        ),
        features_json=features_json,
    )


def map_values(
    raw: pd.Series, key: str, spec: ValueMap, source: Source, where: str = ""
) -> tuple[pd.Series, pd.Series]:
    """Exact values first, then patterns in order, then the default.
    ``where`` is the mapping key messages name (``values.<key>`` unless
    given)."""
    where = where or f"values.{key}"
    trimmed = raw.str.strip()
    # Few distinct values (categories, types): decide each once.
    decided: dict[str, str | None] = {}
    exact = {contract.normalise_name(k): v for k, v in spec.map.items()}
    for value in trimmed.unique():
        found = exact.get(contract.normalise_name(value))
        if found is None:
            found = next(
                (v for regex, v in spec.pattern_regexes if regex.fullmatch(value)),
                None,
            )
        decided[value] = spec.default if found is None else found
    out = trimmed.map(decided)
    unmapped = out.isna() & (trimmed != "")
    problem = contract.problem_where(
        unmapped,
        f"{key} from {spec.source} '"
        + trimmed
        + f"' matches no value or pattern {source.where(where)}",
    )
    return out.fillna("").astype("str"), problem


def joined_id(raw: pd.DataFrame, spec: IdSpec) -> pd.Series:
    """Several columns joined; a digest when personal data is in them."""
    parts = [raw[c.strip().lower()].str.strip() for c in spec.source]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + spec.separator + part
    empty = pd.concat([p == "" for p in parts], axis=1).all(axis=1)
    if spec.hash:
        joined = pd.Series(
            [
                hashlib.sha256(v.encode("utf-8")).hexdigest()[:ID_DIGEST_CHARS]
                for v in joined.tolist()
            ],
            index=raw.index,
            dtype="str",
        )
    return joined.mask(empty, "")


def _same(first: pd.Series, second: pd.Series) -> pd.Series:
    """'1' where two columns agree (case and spaces ignored), '0' where they
    differ, '' where either is empty: nothing is said of a missing side."""
    a = first.str.strip().str.casefold()
    b = second.str.strip().str.casefold()
    flag = pd.Series("0", index=first.index, dtype="str").mask(a == b, "1")
    return flag.mask((a == "") | (b == ""), "")


def _seconds_before(
    raw: pd.DataFrame, source: Source, created_at_epoch: pd.Series
) -> tuple[dict[str, pd.Series], list[pd.Series]]:
    """Each ``features.times`` column as the seconds from it to the payment,
    read as the time section reads the payment's time (NaN where the cell
    is empty or the payment's time is not known), and its problems. Stored
    under ``seconds_since_<column>``: the name says what the number is, and
    a reason can say it as a span ("3 s after signup_time")."""
    spec = source.mapping.features
    if spec is None or not spec.times:
        return {}, []
    values: dict[str, pd.Series] = {}
    problems: list[pd.Series] = []
    section = source.mapping.time
    for name in spec.times:
        cell = raw[name.strip().lower()].str.strip()
        read = section.model_copy(
            update={"epoch_column": name}
            if section.epoch_column is not None
            else {"column": name}
        )
        epoch, problem = parse_time(raw, read, source, name, "features.times")
        empty = cell == ""
        problem = problem.where(~empty, None)
        gap = (created_at_epoch - epoch).astype("Float64")
        values[SINCE + name] = gap.where(~empty & gap.notna()).astype(float)
        problems.append(problem)
    return values, problems


def _time_text(raw: pd.DataFrame, spec: TimeSpec) -> pd.Series:
    """The time as the file wrote it: its column, or its columns joined by
    one space (a date column and a time column)."""
    parts = [raw[c.strip().lower()].str.strip() for c in spec.source_columns]
    text = parts[0]
    for part in parts[1:]:
        text = text + " " + part
    return text.str.strip()


def parse_time(
    raw: pd.DataFrame,
    spec: TimeSpec,
    source: Source,
    name: str = "created_at",
    key: str = "time",
) -> tuple[pd.Series, pd.Series]:
    """UTC epoch seconds, or a reason naming the key that did not fit.
    ``name`` is the time's name in reasons and ``key`` its section (a
    report's time is ``reported_at`` from ``reports.time``)."""
    if spec.epoch_column is not None:
        return parse_epoch(raw, spec, source, name, key)
    text = _time_text(raw, spec)
    if spec.offset_in_text:
        # Each cell's own offset decides its instant, as many as the file mixes.
        local = pd.to_datetime(text, format=spec.format, errors="coerce", utc=True)
        parsed = local.notna()
    else:
        stamps = pd.to_datetime(text, format=spec.format, errors="coerce")
        parsed = stamps.notna()
        local = stamps.dt.tz_localize(
            str(spec.timezone), ambiguous="NaT", nonexistent="NaT"
        )
    in_zone = local.notna()
    epoch = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    if in_zone.any():
        epoch[in_zone] = contract.epoch_seconds(local[in_zone], utc=True)
    problem = contract.problem_where(
        ~parsed,
        f"{name} '"
        + text
        + f"' does not match '{spec.format}' {source.where(f'{key}.format')}",
    )
    gap = contract.problem_where(
        parsed & ~in_zone,
        f"{name} '"
        + text
        + f"' does not exist or is ambiguous in {spec.timezone} (a daylight-saving "
        f"change) {source.where(f'{key}.timezone')}",
    )
    return epoch, problem.where(problem.notna(), gap)


def parse_epoch(
    raw: pd.DataFrame,
    spec: TimeSpec,
    source: Source,
    name: str = "created_at",
    key: str = "time",
) -> tuple[pd.Series, pd.Series]:
    """Whole numbers of the declared unit since the offset, as UTC seconds
    (milliseconds rounded down to the second)."""
    text = raw[str(spec.epoch_column).strip().lower()].str.strip()
    number = pd.to_numeric(text.where(text != "", None), errors="coerce")
    whole = number.notna() & (number == np.floor(number))
    multiplier, divisor = EPOCH_UNITS[spec.epoch_unit]
    steps = number[whole].astype(np.int64)
    epoch = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    start = spec.start
    if start is not None and spec.epoch_unit == "days":
        epoch[whole] = _calendar_days(start, steps)
    else:
        origin = spec.epoch_offset_seconds if start is None else int(start.timestamp())
        epoch[whole] = steps * multiplier // divisor + origin
    problem = contract.problem_where(
        ~whole,
        f"{name} '" + text + f"' is not a whole number of {spec.epoch_unit} "
        f"{source.where(f'{key}.epoch_column')}",
    )
    return epoch, problem


def _calendar_days(start: pd.Timestamp, days: pd.Series) -> pd.Series:
    """UTC seconds of the local day ``days`` after ``start``, at its time of
    day: across a daylight-saving change a local midnight is 23 or 25 hours
    from the one before, and counting 86,400 s would land on the day before
    at 23:00. A time the change skips is read an hour later, a repeated one
    at its first occurrence: the row is of that day either way."""
    wall = start.tz_localize(None) + pd.to_timedelta(days, unit="D")
    local = pd.DatetimeIndex(wall).tz_localize(
        start.tz, ambiguous=np.ones(len(wall), dtype=bool), nonexistent="shift_forward"
    )
    return pd.Series(local.as_unit("s").asi8, index=days.index)


def _parse_amount(
    raw: pd.Series, spec: AmountSpec, source: Source
) -> tuple[pd.Series, pd.Series]:
    """Centavos of reais, exactly from the text, then times ``to_brl``.

    One regular expression splits a cell into sign, currency mark and
    number (``-R$ 1.234,56``, ``R$ -1.234,56``, ``1234.56-``): one pass over
    the column instead of a string operation per piece.
    """
    number = spec.whole_pattern
    decimal = re.escape(spec.decimal)
    pattern = (
        rf"^\s*(?P<pre>-)?\s*(?:{_CURRENCY_MARKS})?\s*(?P<mid>-)?\s*"
        rf"(?P<whole>{number})(?:{decimal}(?P<frac>\d+))?\s*(?P<post>-)?\s*$"
    )
    parts = raw.str.replace("\u00a0", " ", regex=False).str.extract(pattern)
    fits = parts["whole"].notna()
    negative = fits & parts[["pre", "mid", "post"]].notna().any(axis=1)
    whole = parts["whole"].fillna("0")
    if spec.thousands:
        whole = whole.str.replace(spec.thousands, "", regex=False)
    # Zeros past the fourth decimal change nothing (13.010000 is 13.01);
    # other digits there would be rounded away, so they reject the row.
    frac = parts["frac"].fillna("").str.rstrip("0")
    too_fine = fits & (frac.str.len() > AMOUNT_DECIMALS)
    frac = frac.str.ljust(AMOUNT_DECIMALS, "0")
    too_big = fits & (whole.str.len() > contract.MAX_AMOUNT_DIGITS)
    good = fits & ~too_big & ~too_fine
    units = whole.where(good, "0").astype(np.int64) * AMOUNT_SCALE + frac.where(
        good, "0"
    ).astype(np.int64)
    cents = np.rint(units.to_numpy(dtype=np.float64) * spec.to_brl / 100)
    cents = pd.Series(cents, index=raw.index).astype("Int64").where(good)
    refused = negative & good & (spec.negative == "reject")
    zero = good & (units == 0)
    # More than zero in the file, less than a centavo in reais: the rate
    # made it 0 (2 Ugandan shillings), so the reason names the rate.
    under_centavo = good & ~zero & (cents.fillna(1) <= 0)
    empty = raw.str.strip() == ""
    says = f" is not a number {spec.separators_said('1234.56')} " + source.where(
        "amount"
    )
    problem = contract.first_problem(
        _quoted_where(~fits & ~empty, raw, says),
        contract.problem_where(
            empty, f"missing amount {source.where('amount.column')}"
        ),
        _quoted_where(refused, raw, f" is negative {source.where('amount.negative')}"),
        _quoted_where(
            zero & ~refused,
            raw,
            f" must be more than zero {source.where('amount.column')}",
        ),
        _under_centavo(under_centavo & ~refused, raw, units, spec, source),
        _quoted_where(too_big, raw, " is too large"),
        _quoted_where(
            too_fine & ~too_big,
            raw,
            f" has more than {AMOUNT_DECIMALS} decimals that are not 0; they "
            f"are not rounded away {source.where('amount.column')}",
        ),
    )
    return cents.where(problem.isna()), problem


def _under_centavo(
    mask: pd.Series,
    raw: pd.Series,
    units: pd.Series,
    spec: AmountSpec,
    source: Source,
) -> pd.Series:
    """``amount '2' is R$ 0.00206 at 0.00103 reais per UGX, less than one
    centavo``: the file's amount in reais, said on the rows of mask."""
    out = pd.Series(None, index=mask.index, dtype=object)
    if mask.any():
        reais = units[mask].astype(np.float64) / AMOUNT_SCALE * spec.to_brl
        out[mask] = [
            f"amount '{cell}' is R$ {value:.3g} at {spec.to_brl:g} reais per "
            f"{spec.currency}, less than one centavo {source.where('amount.to_brl')}"
            for cell, value in zip(raw[mask].astype(str), reais, strict=True)
        ]
    return out


def _quoted_where(mask: pd.Series, raw: pd.Series, says: str) -> pd.Series:
    """``amount 'text' says`` on the rows of mask; text built for those only."""
    out = pd.Series(None, index=mask.index, dtype=object)
    if mask.any():
        out[mask] = "amount '" + raw[mask].astype(str) + "'" + says
    return out


def fraud_count(raw: pd.DataFrame, source: Source) -> int:
    """How many of these rows the source's label column calls fraud (0
    without one): skipped rows' labels are not stored, and a user who skips
    rows labelled fraud is told how many."""
    spec = source.mapping.label
    column = spec.column.strip().lower() if spec is not None else ""
    if spec is None or column not in raw:
        return 0
    return int(_label_is(raw[column], spec.fraud).sum())


def _label_is(cells: pd.Series, values: tuple[str, ...]) -> pd.Series:
    """Whether each cell is one of the label's values, compared as
    ``values.map`` compares (case, accents and extra spaces ignored): an
    export writes ``Yes``, a mapping ``yes``, and nothing else differs."""
    wanted = {contract.normalise_name(v) for v in values}
    decided = {v: contract.normalise_name(v) in wanted for v in cells.unique()}
    return cells.map(decided).astype(bool)


def _labels(
    raw: pd.DataFrame, text: dict[str, pd.Series], source: Source
) -> tuple[pd.DataFrame, pd.Series]:
    """Reported labels carried in the file, if its source names a label column
    and this file has it; a value that is neither fraud nor legitimate rejects
    the row rather than being read as either."""
    spec = source.mapping.label
    ids = text.get("transaction_id", pd.Series("", index=raw.index, dtype="str"))
    none = pd.Series(None, index=raw.index, dtype=object)
    if spec is None or spec.column.strip().lower() not in raw:
        return _label_frame(
            ids, pd.Series(pd.NA, index=raw.index, dtype="Int64"), none
        ), none
    value = raw[spec.column.strip().lower()].str.strip()
    fraud = _label_is(value, spec.fraud)
    legit = _label_is(value, spec.legitimate) & ~fraud
    is_fraud = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    is_fraud[fraud] = 1
    is_fraud[legit] = 0
    fraud_type = none
    if spec.fraud_type_column and spec.fraud_type_column.strip().lower() in raw:
        typed = raw[spec.fraud_type_column.strip().lower()].str.strip()
        fraud_type = typed.astype(object).where(typed != "", None)
    problem = contract.problem_where(
        ~fraud & ~legit & (value != ""),
        f"label {spec.column} '"
        + value
        + f"' is neither fraud nor legitimate {source.where('label')}",
    )
    return _label_frame(ids, is_fraud, fraud_type), problem


def _label_frame(
    ids: pd.Series, is_fraud: pd.Series, fraud_type: pd.Series
) -> pd.DataFrame:
    """The labelled rows only; the frame keeps the file's row positions."""
    frame = pd.DataFrame(
        {
            "transaction_id": ids.str.strip(),
            "is_fraud": is_fraud,
            "fraud_type": fraud_type,
        }
    )
    return frame[is_fraud.notna()]
