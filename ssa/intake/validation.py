"""Row-level validation of a readable drop: good rows in Bronze shape, the rest
with every reason they failed.

A row is rejected, never repaired by a guess: a required field missing, a
time or amount that does not parse, an amount of zero or less, a place that
is neither a known bairro nor usable coordinates, an id repeated inside the
file, a cell holding a control character, or an optional field whose value is
present but invalid. An optional field that is empty stays NULL in Bronze, so
a rule that needs it cannot fire on that row.

A value that parses but cannot be real is rejected too (``LimitSettings``):
an amount above its channel's ceiling, a time before the real existed, a Pix
before Pix, a time in the future or far from the rest of its file, a point
outside the region. A mapped foreign source may keep points outside the
region instead (``outside_region="keep"``): they load with their coordinates
and no bairro, so no bairro-based rule takes them for a Salvador place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ssa.bairros import load_bairros
from ssa.intake import contract
from ssa.intake.drop_file import DropFile
from ssa.intake.mapped_drop import Mapped, skip_reasons, translate
from ssa.intake.personal_data import refuse_documents_in_clear
from ssa.intake.source_mapping import Source
from ssa.local_time import SECONDS_PER_DAY
from ssa.settings import LimitSettings, RegionSettings
from ssa.wording import brl

BRONZE_COLUMNS = (
    "transaction_id",
    "created_at_epoch",
    "customer_id",
    "payer_type",
    "channel",
    "amount_cents",
    "payee_id",
    "payee_type",
    "is_same_owner",
    "merchant_id",
    "category",
    "card_id",
    "entry_mode",
    "auth_status",
    "device_id",
    "device_first_seen_epoch",
    "bairro",
    "lat",
    "lon",
)
TEXT_COLUMNS = (
    "transaction_id",
    "customer_id",
    "payee_id",
    "merchant_id",
    "category",
    "card_id",
    "device_id",
)
REJECT_COLUMNS = ("source_line", "reason")
# A point outside the region: rejected, or kept without a bairro; "none":
# the source has no place at all, and a row without one is not a problem.
OutsideRegion = Literal["reject", "keep", "none"]
# Contract columns that validation turns into a Bronze column of another name.
_TARGET = {"created_at": "created_at_epoch", "amount": "amount_cents"}
ENUM_COLUMNS = ("channel", "payer_type", "payee_type", "entry_mode", "auth_status")


@dataclass(frozen=True)
class BairroIndex:
    """Official bairro names by their accent- and case-free form."""

    names: dict[str, str]
    lat: dict[str, float]
    lon: dict[str, float]


@lru_cache(maxsize=4)
def bairro_index(path: Path) -> BairroIndex:
    """Built once per reference file (the watcher validates many drops)."""
    bairros = load_bairros(path)
    keys = [contract.normalise_name(n) for n in bairros.names]
    return BairroIndex(
        names=dict(zip(keys, bairros.names.tolist(), strict=True)),
        lat=dict(zip(keys, bairros.lat.tolist(), strict=True)),
        lon=dict(zip(keys, bairros.lon.tolist(), strict=True)),
    )


@dataclass(frozen=True)
class Validated:
    """The split of one drop; rows_read = len(good) + len(rejected) +
    len(skipped)."""

    good: pd.DataFrame
    rejected: pd.DataFrame
    missing_optional: tuple[str, ...]
    ignored_columns: tuple[str, ...]
    # The file line of each good row, for messages about it after the load.
    good_lines: pd.Series | None = None
    # Positions of the good rows in the file's records (labels follow them).
    good_index: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    # Rows the source's mapping says are not payments (``skip``), as they
    # came, with their line and the key that left them out; never checked.
    skipped: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def rows_read(self) -> int:
        return len(self.good) + len(self.rejected) + len(self.skipped)


@dataclass(frozen=True)
class Checks:
    """The plausibility checks and when the file is read (tests pin it)."""

    limits: LimitSettings = field(default_factory=LimitSettings)
    region: RegionSettings = field(default_factory=RegionSettings)
    outside_region: OutsideRegion = "reject"
    now_epoch: int | None = None
    # Required columns the source has none of (a mapping's customers: none):
    # their rows load with the column empty instead of being rejected.
    absent: tuple[str, ...] = ()


def validate(
    drop: DropFile,
    bairros: BairroIndex,
    utc_offset_seconds: int,
    *,
    limits: LimitSettings | None = None,
    region: RegionSettings | None = None,
    outside_region: OutsideRegion = "reject",
    now_epoch: int | None = None,
) -> Validated:
    """Parse every contract column of a native drop, collect each row's
    problems, split.

    ``now_epoch`` is when the file is read (tests pin it); times more than
    ``limits.future_tolerance_seconds`` after it are rejected.
    """
    checks = Checks(
        limits or LimitSettings(), region or RegionSettings(), outside_region, now_epoch
    )
    raw, lines, shape_problem = raw_frame(drop)
    present = set(drop.header)
    return _split(
        drop,
        raw,
        _Columns(text=raw),
        lines,
        shape_problem,
        bairros,
        utc_offset_seconds,
        checks,
        missing_optional=tuple(c for c in contract.OPTIONAL if c not in present),
        ignored_columns=tuple(c for c in drop.header if c not in contract.BY_NAME),
    )


def validate_mapped(
    drop: DropFile,
    source: Source,
    bairros: BairroIndex,
    utc_offset_seconds: int,
    checks: Checks | None = None,
) -> tuple[Validated, Mapped]:
    """A drop in a source's layout: mapped to the contract, then the same
    checks as a native drop; rejected rows keep the source's columns and
    layout, so the fixed file goes back into the same source folder. Points
    outside the region are kept or rejected as the source's ``places`` says.
    Rows the source's ``skip`` says are not payments are set aside first,
    unchecked: neither loaded nor rejected."""
    checks = checks or Checks()
    outside: dict[str, OutsideRegion] = {
        "anywhere": "keep",
        "region": "reject",
        "none": "none",
    }
    keep = outside[source.mapping.places]
    checks = Checks(
        checks.limits, checks.region, keep, checks.now_epoch, source.mapping.absent
    )
    raw, lines, shape_problem = raw_frame(drop)
    # A row of the wrong shape has no column to trust: rejected, not skipped.
    skip = skip_reasons(raw, source).where(shape_problem.isna())
    skipped = rejected_rows(raw, skip, lines)
    if len(skipped):
        kept = skip.isna()
        raw = raw[kept].reset_index(drop=True)
        lines = lines[kept].reset_index(drop=True)
        shape_problem = shape_problem[kept].reset_index(drop=True)
    mapped = translate(raw.drop(columns="extra_fields"), source, utc_offset_seconds)
    refuse_documents_in_clear(mapped.text, source)
    keys = _mapping_keys(source)
    columns = _Columns(
        text=mapped.text,
        typed={
            "created_at_epoch": mapped.created_at_epoch,
            "amount_cents": mapped.amount_cents,
        },
        problems=mapped.problems,
        where={name: source.where(key) for name, key in keys.items()},
    )
    validated = _split(
        drop,
        raw,
        columns,
        lines,
        shape_problem,
        bairros,
        utc_offset_seconds,
        checks,
        missing_optional=mapped.missing_optional,
        ignored_columns=mapped.ignored_columns,
    )
    return replace(validated, skipped=skipped), mapped


@dataclass(frozen=True)
class _Columns:
    """What validation reads: contract text, columns a mapping parsed itself,
    its problems, and the mapping key to name after each column's problems."""

    text: pd.DataFrame
    typed: dict[str, pd.Series] = field(default_factory=dict)
    problems: list[pd.Series] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> pd.Series:
        if name in self.text:
            return self.text[name]
        return pd.Series("", index=self.text.index, dtype="str")

    def tag(self, name: str, problem: pd.Series) -> pd.Series:
        """The problem, with the mapping key that fed the column appended."""
        where = self.where.get(name)
        if where is None or not problem.notna().any():
            return problem
        return problem.where(problem.isna(), problem + " " + where)


def _mapping_keys(source: Source) -> dict[str, str]:
    mapping = source.mapping
    keys = {name: f"columns.{name}" for name in mapping.columns}
    keys |= {name: f"constants.{name}" for name in mapping.constants}
    keys |= {name: f"values.{name}" for name in mapping.values}
    keys |= {name: f"ids.{name}" for name in mapping.ids}
    keys |= {name: f"same.{name}" for name in mapping.same}
    keys |= {"created_at": "time", "amount": "amount"}
    return keys


def _split(
    drop: DropFile,
    raw: pd.DataFrame,
    columns: _Columns,
    lines: pd.Series,
    shape_problem: pd.Series,
    bairros: BairroIndex,
    utc_offset_seconds: int,
    checks: Checks,
    *,
    missing_optional: tuple[str, ...],
    ignored_columns: tuple[str, ...],
) -> Validated:
    """Parse, collect each row's problems, split into good and rejected."""
    limits = checks.limits
    now_epoch = int(time.time()) if checks.now_epoch is None else checks.now_epoch
    parsed: dict[str, pd.Series] = dict(columns.typed)
    problems: list[pd.Series] = list(columns.problems)
    column = columns.get

    for name in contract.REQUIRED:
        if _TARGET.get(name, name) not in parsed and name not in checks.absent:
            problems.append(columns.tag(name, _missing(column(name), name)))
    if _has_control_chars(drop):
        for name in [*drop.header, "extra_fields"]:
            problems.append(contract.control_problem(raw[name], name))
    for name in TEXT_COLUMNS:
        parsed[name], problem = contract.parse_text(column(name), name)
        problems.append(columns.tag(name, problem))
    for name in ENUM_COLUMNS:
        parsed[name], problem = contract.parse_enum(column(name), name)
        problems.append(columns.tag(name, problem))
    parsed["is_same_owner"], problem = contract.parse_flag(
        column("is_same_owner"), "is_same_owner"
    )
    problems.append(columns.tag("is_same_owner", problem))
    if "amount_cents" not in parsed:
        parsed["amount_cents"], problem = contract.parse_amount_cents(column("amount"))
        problems.append(problem)
    time_problems: list[pd.Series] = []
    for name, target in (
        ("created_at", "created_at_epoch"),
        ("device_first_seen_at", "device_first_seen_epoch"),
    ):
        if target in parsed:
            problem = pd.Series(None, index=raw.index, dtype=object)
        else:
            parsed[target], problem = contract.parse_epoch(
                column(name), name, utc_offset_seconds
            )
            problem = columns.tag(name, problem)
        bounds = _time_bounds(parsed[target], column(name), name, limits, now_epoch)
        problems.extend((problem, bounds))
        if name == "created_at":
            time_problems.extend((problem, bounds))
    created = parsed["created_at_epoch"]
    pix_early = _pix_before_pix(
        created, parsed["channel"], column("created_at"), limits
    )
    time_problems.append(pix_early)
    problems.append(pix_early)
    problems.append(
        _outside_period(created, column("created_at"), limits, time_problems)
    )
    problems.append(
        _amount_ceiling(
            parsed["amount_cents"], parsed["channel"], column("amount"), limits
        )
    )
    location, problem = _locate(
        column("bairro"),
        column("lat"),
        column("lon"),
        bairros,
        checks.region,
        checks.outside_region,
    )
    parsed.update(location)
    problems.append(problem)
    # A mapped id is the mapping's (a digest of the columns ids builds it
    # from): the reason names the key, not only the digest.
    problems.append(
        columns.tag("transaction_id", _repeated_ids(parsed["transaction_id"], lines))
    )

    reason = join_problems(problems)
    reason = shape_problem.where(shape_problem.notna(), reason)
    bad = reason.notna()
    good = pd.DataFrame({name: parsed[name] for name in BRONZE_COLUMNS})[~bad]
    return Validated(
        good=good.reset_index(drop=True),
        rejected=rejected_rows(raw, reason, lines),
        missing_optional=missing_optional,
        ignored_columns=ignored_columns,
        good_lines=lines[~bad].reset_index(drop=True),
        good_index=good.index.to_numpy(),
    )


def rejected_rows(
    raw: pd.DataFrame, reason: pd.Series, lines: pd.Series
) -> pd.DataFrame:
    """The rows with a reason, as they came, with their line and reason first.

    A fixed .rejected.csv dropped back still has our two columns: the new
    reason replaces the old one.
    """
    bad = reason.notna()
    rejected = raw[bad].drop(columns=list(REJECT_COLUMNS), errors="ignore")
    rejected.insert(0, "reason", reason[bad])
    rejected.insert(0, "source_line", lines[bad])
    if not rejected["extra_fields"].str.len().gt(0).any():
        rejected = rejected.drop(columns="extra_fields")
    return rejected.reset_index(drop=True)


def raw_frame(drop: DropFile) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Every record as text under the header; ragged rows padded, flagged."""
    width = len(drop.header)
    lines = pd.Series([line for line, _ in drop.records], dtype=np.int64)
    rows, extras, shape = [], [], []
    for _, fields in drop.records:
        if len(fields) == width:
            rows.append(fields)
            extras.append("")
            shape.append(None)
            continue
        padded = (*fields[:width], *([""] * (width - len(fields))))
        rows.append(padded)
        extras.append(drop.delimiter.join(fields[width:]))
        shape.append(f"the row has {len(fields)} fields, the header has {width}")
    raw = pd.DataFrame(rows, columns=list(drop.header), dtype="str")
    raw["extra_fields"] = pd.Series(extras, dtype="str")
    return raw, lines, pd.Series(shape, dtype=object)


def _has_control_chars(drop: DropFile) -> bool:
    """One search over the whole file: almost every file has none, and a
    search per cell costs more than the rest of validation."""
    text = "".join(["".join(fields) for _, fields in drop.records])
    return contract.CONTROL_CHARS.search(text) is not None


def _missing(raw: pd.Series, name: str) -> pd.Series:
    return contract.problem_where(raw.str.strip() == "", f"missing {name}")


def _epoch_of(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _value_problem(
    mask: pd.Series, column: str, raw: pd.Series, says: str | pd.Series
) -> pd.Series:
    """``column 'value' says`` on the rows of mask; the text is built for
    those rows only (a check that finds nothing costs no string work)."""
    out = pd.Series(None, index=mask.index, dtype=object)
    if mask.any():
        tail = says if isinstance(says, str) else says[mask]
        out[mask] = column + " '" + raw[mask].astype(str) + "' " + tail
    return out


def _time_bounds(
    epoch: pd.Series,
    raw: pd.Series,
    name: str,
    limits: LimitSettings,
    now_epoch: int,
) -> pd.Series:
    """Before the real existed, or later than the moment the file is read."""
    floor = limits.min_created_at
    tolerance = limits.future_tolerance_seconds
    return contract.first_problem(
        _value_problem(
            (epoch < _epoch_of(floor)).fillna(False),
            name,
            raw,
            f"is before {floor.isoformat()}, when the real began "
            "(limits.min_created_at)",
        ),
        _value_problem(
            (epoch > now_epoch + tolerance).fillna(False),
            name,
            raw,
            f"is in the future (more than {tolerance} s after the file was read; "
            "limits.future_tolerance_seconds)",
        ),
    )


def _pix_before_pix(
    epoch: pd.Series, channel: pd.Series, raw: pd.Series, limits: LimitSettings
) -> pd.Series:
    first = limits.pix_first_day
    early = (channel == "pix") & (epoch < _epoch_of(first)).fillna(False)
    return _value_problem(
        early,
        "created_at",
        raw,
        f"is a pix before {first.isoformat()}, when Pix began (limits.pix_first_day)",
    )


def _outside_period(
    epoch: pd.Series,
    raw: pd.Series,
    limits: LimitSettings,
    checked: list[pd.Series],
) -> pd.Series:
    """Far from the median time of the file's other plausible times.

    The median of the times that passed every time check so far is the
    file's robust centre: a few wild values do not move it, and a file
    spread over a year has all its rows within a year of it.
    """
    time_problems = pd.concat(checked, axis=1).notna().any(axis=1)
    plausible = epoch[epoch.notna() & ~time_problems]
    if plausible.empty:
        return _value_problem(time_problems & False, "created_at", raw, "")
    centre = int(plausible.astype("int64").median())
    distance = (epoch - centre).abs()
    far = (distance > limits.period_half_width_days * SECONDS_PER_DAY).fillna(False)
    far &= ~time_problems
    centre_day = datetime.fromtimestamp(centre, UTC).date().isoformat()
    says = (
        (
            "is "
            + (distance // SECONDS_PER_DAY).astype(str)
            + f" days from the middle of this file's times ({centre_day}): more "
            f"than limits.period_half_width_days ({limits.period_half_width_days})"
        )
        if far.any()
        else ""
    )
    return _value_problem(far, "created_at", raw, says)


def _amount_ceiling(
    cents: pd.Series, channel: pd.Series, raw: pd.Series, limits: LimitSettings
) -> pd.Series:
    ceilings = limits.max_cents()
    above = (cents > channel.map(ceilings).astype("Int64")).fillna(False)
    says = pd.Series("", index=raw.index, dtype=object)
    says[above] = [
        f"is above the {ch} ceiling of {brl(ceilings[ch] / 100)} "
        f"(limits.max_{ch}_cents)"
        for ch in channel[above]
    ]
    return _value_problem(above, "amount", raw, says)


def _locate(
    bairro_raw: pd.Series,
    lat_raw: pd.Series,
    lon_raw: pd.Series,
    bairros: BairroIndex,
    region: RegionSettings,
    outside_region: OutsideRegion,
) -> tuple[dict[str, pd.Series], pd.Series]:
    """Coordinates as given, else the bairro's centroid; neither is a problem.

    Given coordinates outside the region reject the row, or, kept, leave it
    without a bairro: a bairro name beside them cannot be the place; kept
    too, a row whose bairro the reference does not know and that has no
    coordinates loads without a place. A source that has no place at all
    (``"none"``) loads its rows without one.
    """
    bairro_text = bairro_raw.str.strip()
    # A drop names a few hundred places at most: normalise each name once.
    keys = {name: contract.normalise_name(name) for name in bairro_text.unique()}
    key = bairro_text.map(keys)
    canonical = key.map(bairros.names)
    known = canonical.notna()
    lat, _ = contract.parse_coordinate(
        lat_raw, "lat", contract.COORDINATE_LIMITS["lat"]
    )
    lon, _ = contract.parse_coordinate(
        lon_raw, "lon", contract.COORDINATE_LIMITS["lon"]
    )
    usable = lat.notna() & lon.notna() & ~((lat == 0) & (lon == 0))
    final_lat = lat.where(usable, key.map(bairros.lat).astype("Float64"))
    final_lon = lon.where(usable, key.map(bairros.lon).astype("Float64"))
    name = canonical.where(known, bairro_text.where(bairro_text != "", None))
    outside = usable & ~region.contains(lat, lon).fillna(False)
    if outside_region == "keep":
        name = name.mask(outside, None)
    no_coords = (lat_raw.str.strip() == "") & (lon_raw.str.strip() == "")
    coords = pd.Series("no lat/lon", index=bairro_raw.index, dtype=object).where(
        no_coords,
        "lat/lon '" + lat_raw + "', '" + lon_raw + "' are not usable coordinates",
    )
    place = pd.Series("no bairro", index=bairro_raw.index, dtype=object).where(
        bairro_text == "", "bairro '" + bairro_text + "' is not a Salvador bairro"
    )
    # A source whose places may lie anywhere (a mapping's default) names
    # places the reference does not know ("Paralela", a shopping centre, a
    # town nearby): such a row loads without a place, as one outside the
    # region does, and the place rules do not judge it. Only the contract's
    # own region checks reject it.
    placeless = outside_region in ("none", "keep")
    problem = contract.problem_where(
        ~known & ~usable & (not placeless),
        "no usable location: " + place + " and " + coords,
    )
    if outside_region == "keep":
        name = name.mask(~known & ~usable, None)
    if outside_region == "reject":
        problem = contract.first_problem(
            problem, _outside_problem(outside, lat, lon, lat_raw, lon_raw, region)
        )
    return (
        {
            "bairro": name.astype(object).where(name.notna(), None),
            "lat": final_lat,
            "lon": final_lon,
        },
        problem,
    )


def _outside_problem(
    outside: pd.Series,
    lat: pd.Series,
    lon: pd.Series,
    lat_raw: pd.Series,
    lon_raw: pd.Series,
    region: RegionSettings,
) -> pd.Series:
    """Outside the region's box, naming a lat/lon swap when that would fit."""
    box = (
        f"lat {region.lat_min:g} to {region.lat_max:g}, "
        f"lon {region.lon_min:g} to {region.lon_max:g}"
    )
    if not outside.any():
        return contract.problem_where(outside, "")
    swapped = outside & region.contains(lon, lat).fillna(False)
    given = "lat/lon '" + lat_raw + "', '" + lon_raw + "'"
    return contract.first_problem(
        contract.problem_where(
            swapped,
            given + " are lat and lon swapped: exchanged, the point is inside "
            f"the region ({box})",
        ),
        contract.problem_where(
            outside, given + f" are outside the region ({box}; settings.region)"
        ),
    )


def _repeated_ids(ids: pd.Series, lines: pd.Series) -> pd.Series:
    """Later copies of an id already seen in this file; the first one loads."""
    present = ids.notna()
    repeated = present & ids.duplicated(keep="first")
    first_line = lines.groupby(ids.where(present)).transform("first")
    message = (
        "duplicate transaction_id '"
        + ids.astype(str)
        + "' (first at line "
        + first_line.astype("Int64").astype(str)
        + ")"
    )
    return contract.problem_where(repeated, message)


def join_problems(problems: list[pd.Series]) -> pd.Series:
    """All problems of a row in one reason, '; '-separated, None if none."""
    table = pd.concat(problems, axis=1)
    has_any = table.notna().any(axis=1)
    reason = pd.Series(None, index=table.index, dtype=object)
    if has_any.any():
        reason[has_any] = table[has_any].apply(
            lambda row: "; ".join(p for p in row if isinstance(p, str)), axis=1
        )
    return reason
