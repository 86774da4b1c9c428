"""A source mapping: how one upstream system's CSV becomes the input contract.

A fintech's exports come from card processors, core banking and internet
banking, each with its own encoding, delimiter, headers, time format and
currency. ``sources/<name>.yaml`` says, once per system, how its columns map
onto the contract (``ssa/intake/contract.py``), so a data engineer adds a source
without writing Python. The file is checked in full before any row is read:
a mistake stops with the file, the key and what was expected.

Everything a mapping produces is contract *text* (ids, enums, flags,
coordinates) except time and amount, which it parses itself, because their
format is what differs most between systems; the row checks that follow are
the contract's own, the same as for native drops. The sections a mapping
shares with its ``reports`` (file, value maps, ids, time) are in
``ssa/intake/mapping_parts.py``; the reports section in
``ssa/intake/report_mapping.py``.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ssa.intake import contract
from ssa.intake.mapping_parts import (
    FileFormat,
    IdSpec,
    SkipRule,
    SkipSection,
    Strict,
    TimeSpec,
    ValueMap,
)
from ssa.intake.report_mapping import ReportMapping

# A source folder name: also the mapping's file name and its lineage tag.
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# The folder under the watched one that holds reported-fraud files, not a source.
LABELS_FOLDER = "labels"
# The columns a mapping may produce by rename, constant, value map or id.
# Time and amount have sections of their own (their formats vary most).
MAPPABLE = tuple(c for c in contract.BY_NAME if c not in ("created_at", "amount"))
# The contract's flags, which a mapping may also set from whether two of the
# source's columns agree (``same``): a Pix export names the payer's and the
# payee's documents, never whether they are one owner.
FLAGS = tuple(c.name for c in contract.COLUMNS if c.kind == "flag")
# The sections that give a contract column, in the order messages name them.
SECTIONS = ("columns", "constants", "values", "ids", "same")
# The one required column a source may say it lacks (``customers: none``).
CUSTOMER = "customer_id"


class SourceError(ValueError):
    """A source mapping is missing or wrong; the message names file and key."""


class AmountSpec(Strict):
    """The amount, its separators, and how to turn it into reais."""

    column: str = Field(min_length=1)
    decimal: Literal[".", ","] = "."
    thousands: Literal["", ".", ",", " "] = ""
    currency: str = Field("BRL", pattern=r"^[A-Z]{3}$", description="ISO 4217.")
    to_brl: float = Field(
        1.0,
        gt=0,
        description="Reais per unit of the currency, so R$ thresholds mean R$.",
    )
    negative: Literal["reject", "absolute"] = Field(
        "reject",
        description="Statements print payments as negative amounts: 'absolute' "
        "takes their size.",
    )

    @property
    def whole_pattern(self) -> str:
        """A regular expression of a number's whole part as the file writes
        it: digits, or groups of three between thousands separators."""
        if not self.thousands:
            return r"\d+"
        sep = re.escape(self.thousands)
        return rf"(?:\d{{1,3}}(?:{sep}\d{{3}})+|\d+)"

    def separators_said(self, example: str) -> str:
        """How its numbers are written, for a reason: "with ',' for
        decimals and '.' for thousands (1234,56)"; ``example`` uses '.'."""
        return (
            f"with '{self.decimal}' for decimals"
            + (f" and '{self.thousands}' for thousands" if self.thousands else "")
            + f" ({example.replace('.', self.decimal)})"
        )

    @model_validator(mode="after")
    def _coherent(self) -> AmountSpec:
        if self.decimal == self.thousands:
            raise ValueError("decimal and thousands separators must differ")
        if self.currency == "BRL" and self.to_brl != 1.0:
            raise ValueError("to_brl must be 1 for BRL")
        return self


class LabelSpec(Strict):
    """Reported fraud carried in the file; optional per file."""

    column: str = Field(min_length=1)
    fraud: tuple[str, ...] = Field(("1",), min_length=1)
    legitimate: tuple[str, ...] = ("0",)
    fraud_type_column: str | None = None


# --- The source's own columns the risk model reads (``features:``) ---------

# At most this many declared features, each name and categorical value at
# most this long: a row's features then always fit the warehouse column
# (bronze_source_features.features_json) and a reason's words its column.
MAX_FEATURES = 64
FEATURE_TEXT_MAX = 64


class FeatureSpec(Strict):
    """Source columns kept for the risk model only, by kind: detection never
    reads them, so a source's own fraud signal (balances, a PCA vector, an
    e-mail domain) reaches the model without entering the contract."""

    numeric: tuple[str, ...] = Field(
        (), description="Numbers, read with amount.decimal and amount.thousands."
    )
    categorical: tuple[str, ...] = Field(
        (), description="Text, coded by the values seen in training."
    )
    times: tuple[str, ...] = Field(
        (),
        description="Columns holding another time of the row (the account's "
        "opening, a sign-up, a card's issue), written as the time section "
        "reads the payment's (its format and zone, or its epoch unit): each "
        "becomes a number, the seconds from that time to the payment (an "
        "account opened 3 s before it: 3). An empty cell is missing.",
    )

    @model_validator(mode="after")
    def _each_once(self) -> FeatureSpec:
        seen: dict[str, str] = {}
        for kind in ("numeric", "categorical", "times"):
            for name in getattr(self, kind):
                key = name.strip().lower()
                if not key:
                    raise ValueError(f"{kind}: a column name is empty")
                if len(name) > FEATURE_TEXT_MAX:
                    raise ValueError(
                        f"{kind}: {name!r} is longer than {FEATURE_TEXT_MAX} characters"
                    )
                if key in seen:
                    where = "twice" if seen[key] == kind else "in both lists"
                    raise ValueError(
                        f"{kind}: {name!r} is named {where} "
                        f"(numeric, categorical or times, once)"
                    )
                seen[key] = kind
        if len(seen) > MAX_FEATURES:
            raise ValueError(f"at most {MAX_FEATURES} features, found {len(seen)}")
        return self

    def columns(self) -> dict[str, str]:
        """Each declared column with its key, ``features.numeric``,
        ``features.categorical`` or ``features.times``."""
        out = {name: "features.numeric" for name in self.numeric}
        out |= {name: "features.categorical" for name in self.categorical}
        out |= {name: "features.times" for name in self.times}
        return out


class SourceMapping(Strict):
    """One upstream system's CSV layout, as ``sources/<name>.yaml`` says."""

    description: str = Field(min_length=1)
    file: FileFormat = FileFormat()
    columns: dict[str, str] = Field(
        default_factory=dict, description="Contract column: source column."
    )
    constants: dict[str, str] = Field(
        default_factory=dict,
        description="Contract column: the same value on every row.",
    )
    values: dict[str, ValueMap] = Field(default_factory=dict)
    ids: dict[str, IdSpec] = Field(default_factory=dict)
    same: dict[str, tuple[str, str]] = Field(
        default_factory=dict,
        description="A flag: 1 where the two source columns hold the same value "
        "(case and spaces ignored), 0 where they differ, empty where either is "
        "empty: is_same_owner: [payer document, payee document].",
    )
    time: TimeSpec
    amount: AmountSpec
    label: LabelSpec | None = None
    places: Literal["region", "anywhere", "none"] = Field(
        "anywhere",
        description="anywhere: a point outside the region keeps its coordinates "
        "but gets no bairro and no place-based rule, and a bairro the "
        "reference does not know, with no coordinates, loads without a "
        "place; region: such a row is "
        "rejected, as in the native contract; none: the source has no place "
        "(PaySim, IEEE-CIS, a Pix export): rows load without one.",
        validate_default=True,
    )
    customers: Literal["given", "none"] = Field(
        "given",
        description="given: every row names its paying customer (customer_id); "
        "none: the source names no customer (the ULB credit-card file): rows "
        "load without one, and the rules and features that compare a payment "
        "with the customer's others do not judge them.",
    )
    features: FeatureSpec | None = None
    reports: ReportMapping | None = Field(
        None,
        description="The source's reported fraud (chargebacks, MED reports, "
        "analysts' verdicts) as its fraud team exports it: files dropped into "
        "incoming/<source>/labels/ or given to flows.ingest --source <source> "
        "--labels FILE.",
    )
    skip: SkipSection = Field(
        default_factory=dict,
        description="Source column: its values that mean the row is not a "
        "payment (money coming in, a transfer that never happened). Such rows "
        "are counted and listed, never loaded and never rejected. Matched as "
        "values.map and values.patterns match: case, accents and extra spaces "
        "ignored, '*' and '?' as in a pattern.",
    )

    @field_validator("columns", "constants", "values", "ids")
    @classmethod
    def _contract_keys(cls, value: dict) -> dict:
        for key in value:
            if key not in MAPPABLE:
                hint = (
                    " (it has a section of its own: time / amount)"
                    if key in ("created_at", "amount")
                    else ""
                )
                raise ValueError(
                    f"{key!r} is not a contract column{hint}; expected one of "
                    + ", ".join(MAPPABLE)
                )
        return value

    @field_validator("same")
    @classmethod
    def _flag_keys(cls, value: dict) -> dict:
        for key in value:
            if key not in FLAGS:
                raise ValueError(
                    f"{key!r} is not a flag of the contract; expected "
                    + ", ".join(FLAGS)
                )
        return value

    @model_validator(mode="after")
    def _each_column_once(self) -> SourceMapping:
        seen: dict[str, str] = {}
        for section in SECTIONS:
            for key in getattr(self, section):
                if key in seen:
                    raise ValueError(
                        f"{key} is given by both {seen[key]} and {section}"
                    )
                seen[key] = section
        missing = [
            c
            for c in contract.REQUIRED
            if c not in seen and c in MAPPABLE and c not in self.absent
        ]
        if missing:
            hint = (
                " (a source with no customer at all says customers: none; "
                "a made-up constant would make every row one customer's)"
                if CUSTOMER in missing
                else ""
            )
            raise ValueError(
                "the contract needs " + ", ".join(missing) + ": map each from a "
                "column (columns), a constant, a value map (values) or an id "
                f"(ids){hint}"
            )
        if ("lat" in seen) != ("lon" in seen):
            raise ValueError("map lat and lon together")
        return self

    @field_validator("places")
    @classmethod
    def _places_said(cls, value: str, info: ValidationInfo) -> str:
        """Without a place every row would be rejected: said once, here."""
        given = {key for section in SECTIONS for key in info.data.get(section) or {}}
        placed = [c for c in ("bairro", "lat", "lon") if c in given]
        if value == "none" and placed:
            raise ValueError(
                f"none, but the mapping gives {', '.join(placed)}: leave them "
                "out, or say places: anywhere"
            )
        if value != "none" and not placed:
            raise ValueError(
                "the mapping gives no place (bairro, or lat and lon): map one, "
                "or say places: none (rows then load without a place, and the "
                "rules that compare places do not judge them)"
            )
        return value

    @property
    def absent(self) -> tuple[str, ...]:
        """Required contract columns the source says it does not have."""
        return (CUSTOMER,) if self.customers == "none" else ()

    @field_validator("customers")
    @classmethod
    def _customers_said(cls, value: str, info: ValidationInfo) -> str:
        """A source that names a customer cannot also have none."""
        given = [s for s in SECTIONS if CUSTOMER in (info.data.get(s) or {})]
        if value == "none" and given:
            raise ValueError(
                f"none, but {given[0]} gives {CUSTOMER}: leave it out, or say "
                "customers: given"
            )
        return value

    def contract_problems(self) -> list[str]:
        """'key: problem' for each constant or value-map target the contract
        refuses ('' leaves a field empty and is always taken)."""
        given: list[tuple[str, str, str]] = [
            (f"constants.{key}", key, value) for key, value in self.constants.items()
        ]
        for key, spec in self.values.items():
            given += [(f"values.{key}.map.{k}", key, v) for k, v in spec.map.items()]
            given += [
                (f"values.{key}.patterns.{k}", key, v) for k, v in spec.patterns.items()
            ]
            if spec.default:
                given.append((f"values.{key}.default", key, spec.default))
        found = ((where, contract.value_problem(key, v)) for where, key, v in given)
        return [f"{where}: {problem}" for where, problem in found if problem]

    def produced(self) -> tuple[str, ...]:
        """Contract columns this mapping fills (time and amount included)."""
        keys = [*self.columns, *self.constants, *self.values, *self.ids, *self.same]
        return ("created_at", "amount", *keys)

    def source_columns(self) -> dict[str, str]:
        """Each source column the mapping reads, with the key that names it."""
        used: dict[str, str] = {}
        for key, column in self.columns.items():
            used.setdefault(column, f"columns.{key}")
        for key, spec in self.values.items():
            used.setdefault(spec.source, f"values.{key}.from")
        for key, spec in self.ids.items():
            for column in spec.source:
                used.setdefault(column, f"ids.{key}.from")
        for key, pair in self.same.items():
            for column in pair:
                used.setdefault(column, f"same.{key}")
        time_key = "time.epoch_column" if self.time.epoch_column else "time.column"
        for column in self.time.source_columns:
            used.setdefault(column, time_key)
        used.setdefault(self.amount.column, "amount.column")
        return used

    def feature_columns(self) -> dict[str, str]:
        """The declared source features with their keys ({} without any)."""
        return {} if self.features is None else self.features.columns()

    def feature_problems(self) -> list[str]:
        """'key: problem' for each declared feature the mapping already reads
        as something else: a feature is a column the contract leaves out.
        A column only hashed into an id may be one too (the e-mail domain in
        a customer id): the digest keeps none of its value."""
        taken = {
            c.strip().lower(): key
            for c, key in {**self.source_columns(), **self.label_columns()}.items()
            if not key.startswith("ids.")
        }
        taken |= {
            c.strip().lower(): "file.skip_columns" for c in self.file.skip_columns
        }
        return [
            f"{key}: {name!r} is already read by {taken[name.strip().lower()]}"
            for name, key in self.feature_columns().items()
            if name.strip().lower() in taken
        ]

    def skip_columns(self) -> dict[str, str]:
        """Each column ``skip`` reads, with its key (``skip.type``)."""
        return {column: f"skip.{column}" for column in self.skip}

    def skip_problems(self) -> list[str]:
        """'key: problem' for a skip column the file section leaves out."""
        left_out = {c.strip().lower() for c in self.file.skip_columns}
        return [
            f"{key}: {column!r} is in file.skip_columns, so it is never read"
            for column, key in self.skip_columns().items()
            if column.strip().lower() in left_out
        ]

    @cached_property
    def skip_rules(self) -> tuple[SkipRule, ...]:
        """The skip section compiled, in the order the file gives it."""
        return tuple(
            SkipRule.of(column, values) for column, values in self.skip.items()
        )

    def report_problems(self) -> list[str]:
        """'key: problem' where the reports section cannot name this source's
        transactions: its id is read as the source's own id is given (one
        column, or the columns ``ids`` builds it from, as many and in order)."""
        if self.reports is None:
            return []
        problems = self.reports.fraud_type_problems()
        given = self.reports.transaction_id
        key = "reports.transaction_id"
        if "transaction_id" in self.columns:
            if len(given) != 1:
                problems.append(
                    f"{key}: the source's transaction_id is one column "
                    f"(columns.transaction_id: {self.columns['transaction_id']}): "
                    f"give the report's one column holding it, not {len(given)}"
                )
        elif "transaction_id" in self.ids:
            built = self.ids["transaction_id"].source
            if len(given) != len(built):
                problems.append(
                    f"{key}: the source builds transaction_id from "
                    f"{len(built)} columns ({', '.join(built)}; "
                    "ids.transaction_id): give the report's columns for them, "
                    f"{len(built)} in that order, so the id is built alike "
                    f"(found {len(given)})"
                )
        else:
            section = next(s for s in SECTIONS if "transaction_id" in getattr(self, s))
            problems.append(
                f"{key}: the source's transaction_id comes from "
                f"{section}.transaction_id; a report can name a transaction "
                "only by a column the id is read from (columns) or built "
                "from (ids)"
            )
        return problems

    def label_columns(self) -> dict[str, str]:
        """Columns of the optional label: a file without them has no labels."""
        if self.label is None:
            return {}
        out = {self.label.column: "label.column"}
        if self.label.fraud_type_column:
            out[self.label.fraud_type_column] = "label.fraud_type_column"
        return out


class Source:
    """A loaded mapping with the name and file it came from, for messages."""

    def __init__(self, name: str, path: Path, mapping: SourceMapping) -> None:
        self.name = name
        self.path = path
        self.mapping = mapping

    def where(self, key: str) -> str:
        """'(sources/sparkov.yaml: time.format)': appended to every reason."""
        return f"({self.display_path}: {key})"

    @property
    def display_path(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"

    def reports(self) -> ReportMapping:
        """The mapping's reports section, or SourceError naming the file and
        the key: a labels file for a source that says nothing of its reports
        has no way to be read."""
        if self.mapping.reports is None:
            raise SourceError(
                f"{self.display_path}: reports: no such section, so a reported-"
                f"fraud file of source {self.name!r} cannot be read: add one "
                "(README, 'Reported fraud'), or give the file in the native "
                "labels layout (incoming/labels/, --labels without --source)"
            )
        return self.mapping.reports


def report_folder(name: str) -> str:
    """Where a source's reports go under the watched folder, processed/ and
    quarantine/: ``internet_banking_br/labels``; also the routing tag that
    ``ingest_file`` reads them by."""
    return f"{name}/{LABELS_FOLDER}"


def reported_source(folder: str | None) -> str | None:
    """The source whose reports a routing tag names (``x/labels``: x)."""
    if folder is None or "/" not in folder:
        return None
    name, _, rest = folder.partition("/")
    return name if rest == LABELS_FOLDER else None


def load_source(name: str, sources_dir: Path) -> Source:
    """``sources_dir/<name>.yaml``, checked in full, or SourceError saying why."""
    if not SOURCE_NAME.fullmatch(name):
        raise SourceError(
            f"source name {name!r}: expected lower-case letters, digits, '_' or '-' "
            "(it is a folder under the watched one and a file in sources/)"
        )
    path = sources_dir / f"{name}.yaml"
    shown = f"{path.parent.name}/{path.name}"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in sources_dir.glob("*.yaml")))
        raise SourceError(
            f"no source mapping {shown} for source {name!r} (known: {known or 'none'})"
        )
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SourceError(f"{shown}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise SourceError(f"{shown}: expected a mapping of keys, found {document!r}")
    try:
        mapping = SourceMapping.model_validate(document)
    except ValidationError as exc:
        raise SourceError(_explain(shown, exc)) from exc
    problems = (
        mapping.contract_problems()
        + mapping.feature_problems()
        + mapping.skip_problems()
        + mapping.report_problems()
    )
    if problems:
        raise SourceError("\n".join(f"{shown}: {p}" for p in problems))
    return Source(name, path, mapping)


def _explain(shown: str, error: ValidationError) -> str:
    """One line per problem: 'sources/x.yaml: time.format: what was expected'."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key (a typo?)"
        lines.append(f"{shown}: {key}: {message}")
    return "\n".join(lines)
