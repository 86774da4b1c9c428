"""A source's reported-fraud file, read with its mapping's ``reports``.

The rows come out as the native labels file's do (``labels.validate_labels``):
transaction id, outcome, kind and report time, for ``labels.store``; a row
that fails is rejected with every reason, each naming the key that read the
value (``(sources/x.yaml: reports.time.format)``); a later row of the file
for the same transaction wins, the earlier one is rejected saying so. A row
whose outcome is neither fraud nor legitimate is a pending report, set
aside before any check (``Validated.skipped``), as ``skip`` sets aside rows
that are not payments: an open case is not a verdict, and nothing in it is
to fix.

The transaction id is the one the payments' rows got: the report's column
as is where the source reads its id from a column, or the report's columns
built into the id by ``mapped_drop.joined_id`` with the source's separator
and digest where the source builds it (``ids.transaction_id``).
"""

from __future__ import annotations

import pandas as pd

from ssa.intake import contract
from ssa.intake.drop_file import DropFile, read_declared
from ssa.intake.labels import checked_labels
from ssa.intake.mapped_drop import (
    joined_id,
    map_values,
    parse_time,
    require_columns,
    skip_reasons,
)
from ssa.intake.mapping_parts import IdSpec
from ssa.intake.report_mapping import FRAUD_TYPE_MAX, OutcomeSpec, ReportMapping
from ssa.intake.source_mapping import Source
from ssa.intake.validation import Validated, raw_frame, rejected_rows

ID_KEY = "reports.transaction_id"


def read_reports(data: bytes, source: Source) -> DropFile:
    """The file's bytes as the reports section declares them, every column
    it reads present (DropFileError otherwise, naming the keys)."""
    spec = source.reports()
    drop = read_declared(
        data,
        spec.file.encoding,
        spec.file.delimiter,
        spec.file.header_line,
        f"{source.display_path}: reports",
        expect=spec.columns(),
        layout_key="reports.file",
        quote=spec.file.quote,
    )
    require_columns(
        drop, source, spec.columns(), spec.file, "reports.file", "a report file"
    )
    return drop


def validate_reports(drop: DropFile, source: Source) -> Validated:
    """Verdicts to store, rows rejected with their reasons, pending reports
    set aside; rows_read = good + rejected + pending."""
    spec = source.reports()
    raw, lines, shape = raw_frame(drop)
    verdict, outcome_problem, pending = _outcomes(raw, spec, source)
    # A report that is not about fraud is set aside first, whatever its
    # outcome: a chargeback won for goods never delivered is no verdict on
    # fraud either way.
    other = skip_reasons(raw, source, spec.skip_rules, "a fraud report")
    pending = other.where(other.notna(), pending)
    # A row of the wrong shape has no column to trust: rejected, not pending.
    pending = pending.where(shape.isna())
    aside = rejected_rows(raw, pending, lines)
    kept = pending.isna()
    raw, lines, shape = (s[kept].reset_index(drop=True) for s in (raw, lines, shape))
    verdict = verdict[kept].reset_index(drop=True)
    outcome_problem = outcome_problem[kept].reset_index(drop=True)

    ids, id_problems = _ids(raw, spec, source)
    kind, kind_problem = _fraud_type(raw, spec, source)
    reported, time_problem = _reported_at(raw, spec, source)
    read = {c.strip().lower() for c in spec.columns()}
    read |= {c.strip().lower() for c in spec.file.skip_columns}
    return checked_labels(
        raw,
        lines,
        shape,
        ids=ids,
        is_fraud=verdict,
        fraud_type=kind.where(verdict == 1, None),
        reported_at_epoch=reported,
        problems=[*id_problems, outcome_problem, kind_problem, time_problem],
        ignored_columns=tuple(c for c in drop.header if c not in read),
        skipped=aside,
    )


def _cells(raw: pd.DataFrame, column: str) -> pd.Series:
    return raw[column.strip().lower()].str.strip()


def _outcomes(
    raw: pd.DataFrame, spec: ReportMapping, source: Source
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per row: 1 fraud, 0 legitimate (else NA); the problem; and the reason
    a pending row is set aside (None for the others)."""
    given = spec.outcome
    if not isinstance(given, OutcomeSpec):
        # One verdict for the file: nothing to read, so nothing to reject
        # and no case left open.
        verdict = pd.Series(int(given == "fraud"), index=raw.index, dtype="Int64")
        none = pd.Series(None, index=raw.index, dtype=object)
        return verdict, none, none.copy()
    outcome = _cells(raw, given.column)
    sets = given.sets
    # Few distinct outcomes: each decided once.
    decided = {
        value: {name: values.matches(value) for name, values in sets.items()}
        for value in outcome.unique()
    }

    def said(name: str) -> pd.Series:
        return outcome.map(lambda v: decided[v].get(name, False)).astype(bool)

    fraud, legit = said("fraud"), said("legitimate")
    empty = outcome == ""
    listed = "pending" in sets
    open_case = ~fraud & ~legit & ~empty & (said("pending") if listed else True)
    column = given.column
    key = "reports.outcome"
    problem = contract.first_problem(
        contract.problem_where(
            empty, f"missing outcome {source.where(f'{key}.column')}"
        ),
        contract.problem_where(
            fraud & legit,
            f"outcome {column} '"
            + outcome
            + f"' matches both fraud and legitimate {source.where(key)}",
        ),
        contract.problem_where(
            ~fraud & ~legit & ~empty & ~open_case,
            f"outcome {column} '"
            + outcome
            + f"' is in none of fraud, legitimate, pending {source.where(key)}",
        ),
    )
    verdict = pd.Series(pd.NA, index=outcome.index, dtype="Int64")
    verdict[fraud & ~legit] = 1
    verdict[legit & ~fraud] = 0
    pending = contract.problem_where(
        open_case,
        f"outcome {column} '"
        + outcome
        + "' is neither fraud nor legitimate: an open case, not a verdict "
        + source.where(f"{key}.pending" if listed else key),
    )
    return verdict, problem, pending


def _ids(
    raw: pd.DataFrame, spec: ReportMapping, source: Source
) -> tuple[pd.Series, list[pd.Series]]:
    """The transaction id as the payments' rows got it, and its problems."""
    where = source.where(ID_KEY)
    columns = spec.transaction_id
    built = source.mapping.ids.get("transaction_id")
    parts = [_cells(raw, c) for c in columns]
    problems: list[pd.Series] = []
    if built is None:
        text = parts[0]
    else:
        # The same columns' values give the same id: same code, same
        # separator, same digest as the payments' rows.
        text = joined_id(
            raw.rename(columns=str.lower),
            IdSpec(**{"from": columns}, separator=built.separator, hash=built.hash),
        )
        if len(columns) > 1:
            problems += [
                contract.problem_where(
                    (part == "") & (text != ""),
                    f"transaction id column {name} is empty {where}",
                )
                for name, part in zip(columns, parts, strict=True)
            ]
    ids, long = contract.parse_text(text, "transaction_id")
    problems.insert(
        0, contract.problem_where(ids.isna(), f"missing transaction_id {where}")
    )
    problems.append(long.where(long.isna(), long + " " + where))
    return ids, problems


def _fraud_type(
    raw: pd.DataFrame, spec: ReportMapping, source: Source
) -> tuple[pd.Series, pd.Series]:
    """The kind of fraud, as written or mapped; None where not given."""
    none = pd.Series(None, index=raw.index, dtype=object)
    if spec.fraud_type is None:
        return none, none
    cells = _cells(raw, spec.fraud_type.source)
    problem = none
    if spec.fraud_type.maps:
        cells, problem = map_values(
            cells, "fraud_type", spec.fraud_type, source, "reports.fraud_type"
        )
    long = contract.problem_where(
        cells.str.len() > FRAUD_TYPE_MAX,
        f"fraud_type is longer than {FRAUD_TYPE_MAX} characters "
        + source.where("reports.fraud_type"),
    )
    kind = cells.astype(object).where(cells != "", None)
    return kind, contract.first_problem(problem, long)


def _reported_at(
    raw: pd.DataFrame, spec: ReportMapping, source: Source
) -> tuple[pd.Series, pd.Series]:
    """UTC epoch seconds of each report; an empty time rejects the row (the
    section says the file dates its reports), one that does not parse too."""
    if spec.time is None:
        return pd.Series(pd.NA, index=raw.index, dtype="Int64"), pd.Series(
            None, index=raw.index, dtype=object
        )
    frame = raw.rename(columns=str.lower)
    epoch, problem = parse_time(frame, spec.time, source, "reported_at", "reports.time")
    empty = pd.concat(
        [_cells(raw, c) == "" for c in spec.time.source_columns], axis=1
    ).all(axis=1)
    key = "reports.time." + ("epoch_column" if spec.time.epoch_column else "column")
    missing = contract.problem_where(empty, f"missing reported_at {source.where(key)}")
    return epoch, contract.first_problem(missing, problem)
