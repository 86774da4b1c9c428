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
from ssa.engines.base import sql_text
from ssa.intake import contract
from ssa.intake.drop_file import DropFile, HeaderContract
from ssa.intake.validation import Validated, join_problems, raw_frame, rejected_rows

LABEL_COLUMNS = ("transaction_id", "is_fraud", "fraud_type", "reported_at")
CONTRACT = HeaderContract(
    known=frozenset(LABEL_COLUMNS), required=("transaction_id", "is_fraud")
)
FRAUD_TYPE_MAX = 64
STORED = (
    "transaction_id",
    "is_fraud",
    "fraud_type",
    "reported_at_epoch",
    "source",
    "batch_id",
    "ingested_at",
)


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
    reported, time_problem = contract.parse_epoch(
        column("reported_at"), "reported_at", utc_offset_seconds
    )
    repeated = ids.notna() & ids.duplicated(keep="last")
    reason = join_problems(
        [
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
            "is_fraud": flag,
            "fraud_type": kind.astype(object).where(kind != "", None),
            "reported_at_epoch": reported,
        }
    )[~bad]
    return Validated(
        good=good.reset_index(drop=True),
        rejected=rejected_rows(raw, reason, lines),
        missing_optional=tuple(c for c in LABEL_COLUMNS if c not in drop.header),
        ignored_columns=tuple(c for c in drop.header if c not in LABEL_COLUMNS),
        good_index=good.index.to_numpy(),
    )


def store(session: Session, frame: pd.DataFrame) -> int:
    """Insert or replace each label; returns how many were new or changed.

    A report dated before the stored one does not replace it; one without a
    date replaces it (it arrived later). Unchanged labels are not counted.
    Labels of transactions not labelled before (a live stream's, nearly
    all) go in as one bulk insert; only a report of a transaction already
    labelled is weighed against the stored one, statement by statement (on
    DuckDB a statement per label held its intake near 200 labels a second).
    """
    full = frame.reindex(columns=list(STORED))
    if full.empty:
        return 0
    ids = full["transaction_id"]
    session.keys_table("stored_label_ids", "transaction_id", ids)
    stored = {
        row[0]
        for row in session.fetchall(
            "select transaction_id from reported_labels where transaction_id in "
            "(select transaction_id from temp.stored_label_ids)"
        )
    }
    session.execute("drop table temp.stored_label_ids")
    weighed = ids.isin(stored) | ids.duplicated(keep=False)
    added = session.insert_new("reported_labels", "transaction_id", full[~weighed])
    if not weighed.any():
        return added
    rest = full[weighed].astype(object)
    rest = rest.where(rest.notna(), None)
    return added + session.executemany(
        sql_text("bronze/upsert_reported_labels.sql"),
        rest.itertuples(index=False, name=None),
    )


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
