"""Reported fraud: labels that reach a bank late and apart from the payments.

Chargebacks, MED reports (Res. BCB 493/2025) and analysts' verdicts arrive
days or weeks after the transaction, as a file of ids and outcomes, or as a
column of a source's export. They go to ``reported_labels`` with their source
and report time; the evaluation and model training read that table, detection
never does. A label is kept even when its transaction has not arrived yet,
and the latest report of a transaction replaces an earlier one.
"""

from __future__ import annotations

import pandas as pd

from ssa.engines import Session
from ssa.engines.base import sql_text, statements
from ssa.intake import contract
from ssa.intake.drop_file import DropFile, HeaderContract
from ssa.intake.report_mapping import FRAUD_TYPE_MAX
from ssa.intake.validation import Validated, join_problems, raw_frame, rejected_rows

LABEL_COLUMNS = ("transaction_id", "is_fraud", "fraud_type", "reported_at")
CONTRACT = HeaderContract(
    known=frozenset(LABEL_COLUMNS), required=("transaction_id", "is_fraud")
)
STORED = (
    "transaction_id",
    "is_fraud",
    "fraud_type",
    "reported_at_epoch",
    "source",
    "batch_id",
    "ingested_at",
)


# Report times as Brazilian systems write them (a MED or chargeback export
# saved from a spreadsheet): day first, local time. Tried only where the
# text is not ISO-8601, whose dates run year first, so no date is read two
# ways.
BR_TIME_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")


def _reported_at(
    raw: pd.Series, utc_offset_seconds: int
) -> tuple[pd.Series, pd.Series]:
    """ISO-8601 report times, or dd/mm/aaaa [hh:mm[:ss]] in local time."""
    epoch, problem = contract.parse_epoch(raw, "reported_at", utc_offset_seconds)
    text = raw.str.strip()
    for fmt in BR_TIME_FORMATS:
        left = problem.notna()
        if not left.any():
            break
        stamps = pd.to_datetime(text[left], format=fmt, errors="coerce")
        read = stamps.index[stamps.notna()]
        local = contract.epoch_seconds(stamps[read], utc=False)
        epoch[read] = local - utc_offset_seconds
        problem[read] = None
    problem = problem.where(
        problem.isna(), problem + " nor dd/mm/aaaa [hh:mm[:ss]] (local time)"
    )
    return epoch, problem


def validate_labels(drop: DropFile, utc_offset_seconds: int) -> Validated:
    """Each row: a transaction id, a yes/no outcome, optionally its type and
    when it was reported; a row that fails is rejected with its reasons."""
    raw, lines, shape = raw_frame(drop)

    def column(name: str) -> pd.Series:
        if name in raw:
            return raw[name]
        return pd.Series("", index=raw.index, dtype="str")

    ids, id_problem = contract.parse_text(column("transaction_id"), "transaction_id")
    flag, flag_problem = contract.parse_flag(column("is_fraud"), "is_fraud")
    kind = column("fraud_type").str.strip()
    reported, time_problem = _reported_at(column("reported_at"), utc_offset_seconds)
    return checked_labels(
        raw,
        lines,
        shape,
        ids=ids,
        is_fraud=flag,
        fraud_type=kind.astype(object).where(kind != "", None),
        reported_at_epoch=reported,
        problems=[
            contract.problem_where(ids.isna(), "missing transaction_id"),
            id_problem,
            contract.problem_where(
                flag.isna() & (column("is_fraud").str.strip() == ""),
                "missing is_fraud",
            ),
            flag_problem,
            contract.problem_where(
                kind.str.len() > FRAUD_TYPE_MAX,
                f"fraud_type is longer than {FRAUD_TYPE_MAX} characters",
            ),
            time_problem,
        ],
        missing_optional=tuple(c for c in LABEL_COLUMNS if c not in drop.header),
        ignored_columns=tuple(c for c in drop.header if c not in LABEL_COLUMNS),
    )


def checked_labels(
    raw: pd.DataFrame,
    lines: pd.Series,
    shape: pd.Series,
    *,
    ids: pd.Series,
    is_fraud: pd.Series,
    fraud_type: pd.Series,
    reported_at_epoch: pd.Series,
    problems: list[pd.Series],
    missing_optional: tuple[str, ...] = (),
    ignored_columns: tuple[str, ...] = (),
    skipped: pd.DataFrame | None = None,
) -> Validated:
    """A labels file's split, however its layout was read (the native
    columns or a source's ``reports``): a row with any problem, or of the
    wrong shape, is rejected with them all; of two rows for one transaction
    the later wins and the earlier is rejected saying so."""
    repeated = ids.notna() & ids.duplicated(keep="last")
    reason = join_problems(
        [
            *problems,
            contract.problem_where(
                repeated, "a later row of this file labels the same transaction"
            ),
        ]
    )
    reason = shape.where(shape.notna(), reason)
    bad = reason.notna()
    good = pd.DataFrame(
        {
            "transaction_id": ids,
            "is_fraud": is_fraud,
            "fraud_type": fraud_type,
            "reported_at_epoch": reported_at_epoch,
        }
    )[~bad]
    return Validated(
        good=good.reset_index(drop=True),
        rejected=rejected_rows(raw, reason, lines),
        missing_optional=missing_optional,
        ignored_columns=ignored_columns,
        good_index=good.index.to_numpy(),
        **({} if skipped is None else {"skipped": skipped}),
    )


def store(session: Session, frame: pd.DataFrame) -> int:
    """Insert or replace each label; returns how many were new or changed.

    A report dated before the stored one does not replace it; one without a
    date replaces it (it arrived later). Unchanged labels are not counted.
    """
    if frame.empty:
        return 0
    session.stage_rows(
        "new_labels", "reported_labels", frame.reindex(columns=list(STORED))
    )
    replace, count_new, insert = statements(
        sql_text("bronze/merge_reported_labels.sql")
    )
    try:
        session.execute(replace)
        # After the replaced labels left: what the insert adds (engines do
        # not all count the rows of an insert).
        stored = int(session.fetchall(count_new)[0][0])
        session.execute(insert)
    finally:
        session.execute("drop table temp.new_labels")
    return stored


def unmatched(session: Session, ids: pd.Series) -> int:
    """How many of these labelled ids have no transaction in Bronze yet."""
    if ids.empty:
        return 0
    session.keys_table("label_ids", "transaction_id", ids)
    row = session.fetchall(
        "select count(*) from temp.label_ids where transaction_id not in "
        "(select transaction_id from bronze_transactions)"
    )[0]
    session.execute("drop table temp.label_ids")
    return int(row[0])
