"""Fraud-only reports (chargebacks, MED): with
``model.unreported_legitimate_after_days`` the payments old enough that a
fraud among them would have been reported count as legitimate, for the
model and the detection report alike; without it only labelled rows count."""

from __future__ import annotations

import pandas as pd

from ssa.engines import incremental, open_warehouse
from ssa.intake.ingest import ingest_file
from ssa.models import GOLD, SILVER
from ssa.risk import risk_model
from ssa.settings import Settings, sql_params
from tests.drops import drop, sample, write


def _month_with_fraud_reports(
    settings: Settings, declined: tuple[int, ...] = ()
) -> pd.DataFrame:
    """Sixty payments a day apart, ingested; fraud reported on the first,
    the 45th and the last; nothing said of the rest. ``declined``: card
    attempts the issuer declined, at these positions."""
    frame = sample(60)
    for i in declined:
        frame.loc[i, ["channel", "auth_status"]] = ["credit", "declined"]
    start = pd.Timestamp("2026-09-01T12:00:00-03:00")
    frame["created_at"] = [
        (start + pd.Timedelta(days=i)).isoformat() for i in range(len(frame))
    ]
    folder = settings.paths.incoming_path
    folder.mkdir(parents=True, exist_ok=True)
    assert ingest_file(drop(folder, "export.csv", frame), settings).rows_loaded == 60
    ids = frame["transaction_id"].tolist()
    labels = pd.DataFrame({"transaction_id": [ids[0], ids[44], ids[59]], "is_fraud": 1})
    path = write(settings.paths.incoming_path / "labels" / "med.csv", labels)
    assert ingest_file(path, settings, source="labels").rows_loaded == 3
    return frame


def _labels(settings: Settings) -> pd.DataFrame:
    with open_warehouse(settings).transaction() as session:
        return risk_model.read_labels(session, settings).set_index("transaction_id")


def test_fraud_reports_alone_label_only_the_reported_rows(settings) -> None:
    frame = _month_with_fraud_reports(settings)
    labels = _labels(settings)
    assert sorted(labels.index) == sorted(frame["transaction_id"].iloc[[0, 44, 59]])
    assert (labels["is_fraud"] == 1).all()


def _settled(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "model": settings.model.model_copy(
                update={"unreported_legitimate_after_days": 10}
            )
        }
    )


def test_a_declined_attempt_is_not_legitimate_by_its_silence(settings) -> None:
    """No money moved, so no report can come: only a report judges it."""
    frame = _month_with_fraud_reports(settings, declined=(0, 5, 6))
    settled = _settled(settings)
    labels = _labels(settled)
    ids = frame["transaction_id"]
    assert ids.iloc[5] not in labels.index and ids.iloc[6] not in labels.index
    assert labels.loc[ids.iloc[0], "is_fraud"] == 1  # reported: judged
    assert len(labels) == 49 - 2
    with open_warehouse(settled).transaction() as session:
        incremental.rebuild(session, SILVER + GOLD, sql_params(settled))
        rows = session.query("gold/evaluation_rows.sql", sql_params(settled))
    judged = rows[rows["label_set"] == "reported"]
    assert len(judged) == len(labels) and judged["is_fraud"].sum() == 2


def test_unreported_payments_old_enough_count_as_legitimate(settings) -> None:
    frame = _month_with_fraud_reports(settings)
    settled = _settled(settings)
    labels = _labels(settled)
    ids = frame["transaction_id"]
    # The latest payment is day 59: days 0-48 are settled; 49-59 too recent
    # to judge, the reported last one too (its days would be fraud only).
    assert set(labels.index) == set(ids.iloc[:49])
    assert labels.loc[ids.iloc[[0, 44]], "is_fraud"].tolist() == [1, 1]
    assert labels["is_fraud"].sum() == 2
    assert (labels["label_set"] == "reported").all()
    # The detection report judges the same rows with the same labels.
    with open_warehouse(settled).transaction() as session:
        incremental.rebuild(session, SILVER + GOLD, sql_params(settled))
        rows = session.query("gold/evaluation_rows.sql", sql_params(settled))
    judged = rows[rows["label_set"] == "reported"]
    assert len(judged) == 49 and judged["is_fraud"].sum() == 2
    assert rows.loc[rows["label_set"] == "unlabelled", "is_fraud"].isna().all()
