"""A source's reported fraud in its own layout: the ``reports:`` section.

A fintech's fraud team exports its chargebacks, MED reports and analysts'
verdicts from its own case system, not from the one that exported the
payments: other encoding, headers, dates, and outcomes written as words
("Fraude confirmada", "Improcedente", "Em análise"). The section says once
how such a file reads, so it loads without Python, and how its rows name
the transaction: the same column the payments' id comes from, or, where the
source builds that id from several columns (``ids:``), the report's columns
for them, built into the id by the same code so a report matches Bronze.

A row whose outcome is neither fraud nor legitimate is a pending report: an
open case is not a verdict, so it is neither stored (it would count as one
or the other) nor rejected (nothing in it is to fix); it is counted and
listed aside, as ``skip`` lists rows that are not payments. A file whose
every row is one verdict (a MED export of refunded fraud, a chargeback
file) has no outcome column to read: ``outcome: fraud`` says so.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from ssa.intake import contract
from ssa.intake.mapping_parts import (
    FileFormat,
    SkipRule,
    SkipSection,
    Strict,
    TimeSpec,
    ValueMap,
    ValueSet,
    quoted_values,
)

# reported_labels.fraud_type is varchar(64) (sql/bronze/schema.sql).
FRAUD_TYPE_MAX = 64
OUTCOME_LISTS = ("fraud", "legitimate", "pending")
WholeFileOutcome = Literal["fraud", "legitimate"]
WHOLE_FILE_OUTCOMES: tuple[str, ...] = get_args(WholeFileOutcome)


class OutcomeSpec(Strict):
    """Which values of the report's outcome column are verdicts, and which."""

    column: str = Field(min_length=1, description="The column of the outcome.")
    fraud: tuple[str, ...] = Field(
        min_length=1,
        description="Values that mean fraud ('Fraude confirmada', 'Procedente'); "
        "matched as values.map matches (case, accents and extra spaces "
        "ignored), '*' and '?' as in a pattern.",
    )
    legitimate: tuple[str, ...] = Field(
        (),
        description="Values that mean not fraud ('Improcedente', 'Não fraude'); "
        "none for a file that lists fraud only (chargebacks).",
    )
    pending: tuple[str, ...] | None = Field(
        None,
        description="Values of open cases ('Em análise'). Without this list "
        "every other value is pending; with it, a value in none of the three "
        "lists rejects the row (a typo shows as a rejection, not as a case "
        "left open).",
    )

    @field_validator("fraud", "legitimate", "pending", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return value if value is None else quoted_values("a value", value)

    @field_validator("fraud", "legitimate", "pending")
    @classmethod
    def _no_empty(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and any(not item.strip() for item in value):
            raise ValueError(
                "an empty value: a row with no outcome is rejected, not read "
                "as a verdict"
            )
        return value

    @model_validator(mode="after")
    def _each_value_once(self) -> OutcomeSpec:
        seen: dict[str, str] = {}
        for name in OUTCOME_LISTS:
            for item in getattr(self, name) or ():
                key = contract.normalise_name(item)
                if key in seen and seen[key] != name:
                    raise ValueError(
                        f"{item!r} is listed in both {seen[key]} and {name}"
                    )
                seen[key] = name
        return self

    @cached_property
    def sets(self) -> dict[str, ValueSet]:
        """Each list compiled, by its key (pending only when given)."""
        return {
            name: ValueSet.of(getattr(self, name))
            for name in OUTCOME_LISTS
            if getattr(self, name) is not None
        }


class FraudTypeSpec(ValueMap):
    """The kind of fraud: a column stored as written, or mapped as a value
    map maps (``from`` + ``map`` / ``patterns`` / ``default``)."""

    @model_validator(mode="after")
    def _maps_something(self) -> FraudTypeSpec:
        """Unlike a contract column's value map, none is needed: without
        one the kind is kept as the report names it."""
        return self

    @property
    def maps(self) -> bool:
        return bool(self.map or self.patterns) or self.default is not None


class ReportMapping(Strict):
    """How a source's reported-fraud export reads, as ``reports:`` says."""

    file: FileFormat = Field(
        FileFormat(),
        description="How the report file is read: its own encoding, delimiter "
        "and header line (it comes from the fraud team's system, not the "
        "payments').",
    )
    transaction_id: tuple[str, ...] = Field(
        min_length=1,
        description="The report's column holding the transaction id as the "
        "source's transaction_id column gives it; where the source builds "
        "the id from several columns (ids.transaction_id), the report's "
        "columns for those, in the same order: the id is then built with the "
        "same separator and digest.",
    )
    outcome: OutcomeSpec | WholeFileOutcome = Field(
        description="The column of the verdict and the values that mean fraud, "
        "legitimate and pending; or 'fraud' (or 'legitimate') alone where "
        "every row of the file is that verdict: a MED export of refunded "
        "fraud, a chargeback file.",
    )
    fraud_type: FraudTypeSpec | None = Field(
        None,
        description="The column naming the kind of fraud, stored as written; "
        "or a value map (from, map, patterns, default) onto your own names. "
        "Kept on fraud verdicts only: on a legitimate one it is the claim "
        "that was refuted.",
    )
    skip: SkipSection = Field(
        default_factory=dict,
        description="Report column: its values that mean the report is not "
        "about fraud (a chargeback for goods not received, reason codes "
        "'13.1', '4853'). Such rows are counted and listed, never stored and "
        "never rejected; matched as the outcome lists match.",
    )
    time: TimeSpec | None = Field(
        None,
        description="When the report was made (column + format + timezone, or "
        "epoch_column): a report dated before the stored one does not replace "
        "it. Without it, each report replaces the stored one.",
    )

    @cached_property
    def skip_rules(self) -> tuple[SkipRule, ...]:
        """The skip section compiled, in the order the file gives it."""
        return tuple(
            SkipRule.of(column, values, "reports.skip")
            for column, values in self.skip.items()
        )

    @field_validator("outcome", mode="before")
    @classmethod
    def _outcome(cls, value: Any) -> Any:
        """A word is the whole file's verdict; anything else is read as the
        column and its lists, so their mistakes name their own keys."""
        if isinstance(value, str):
            word = value.strip().lower()
            if word not in WHOLE_FILE_OUTCOMES:
                raise ValueError(
                    f"{value!r}: a whole file's outcome is 'fraud' or "
                    "'legitimate'; otherwise give the outcome's column and "
                    "its fraud and legitimate values"
                )
            return word
        return (
            value
            if isinstance(value, OutcomeSpec)
            else OutcomeSpec.model_validate(value)
        )

    @field_validator("transaction_id", mode="before")
    @classmethod
    def _one_or_more(cls, value: object) -> object:
        """One column may be written without a list."""
        return [value] if isinstance(value, str) else value

    @field_validator("fraud_type", mode="before")
    @classmethod
    def _column_alone(cls, value: object) -> object:
        """A column name alone: its values as written."""
        return {"from": value} if isinstance(value, str) else value

    @field_validator("transaction_id")
    @classmethod
    def _named(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not n.strip() for n in value):
            raise ValueError("a column name is empty")
        return value

    def columns(self) -> dict[str, str]:
        """Each report column read, with the key that names it."""
        used = {c: "reports.transaction_id" for c in self.transaction_id}
        if isinstance(self.outcome, OutcomeSpec):
            used.setdefault(self.outcome.column, "reports.outcome.column")
        if self.fraud_type is not None:
            used.setdefault(self.fraud_type.source, "reports.fraud_type.from")
        for column in self.skip:
            used.setdefault(column, f"reports.skip.{column}")
        if self.time is not None:
            key = "reports.time." + (
                "epoch_column" if self.time.epoch_column else "column"
            )
            for column in self.time.source_columns:
                used.setdefault(column, key)
        return used

    def fraud_type_problems(self) -> list[str]:
        """'key: problem' for each mapped fraud type too long to store."""
        if self.fraud_type is None:
            return []
        spec = self.fraud_type
        given = [(f"map.{k}", v) for k, v in spec.map.items()]
        given += [(f"patterns.{k}", v) for k, v in spec.patterns.items()]
        if spec.default:
            given.append(("default", spec.default))
        return [
            f"reports.fraud_type.{where}: {value!r} is longer than "
            f"{FRAUD_TYPE_MAX} characters"
            for where, value in given
            if len(value) > FRAUD_TYPE_MAX
        ]
