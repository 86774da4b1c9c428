"""The Gold anomalies as people read them: the export's frame, which the
CSV and the run's top-anomalies table both show, and the name masking every
customer export shares."""

from __future__ import annotations

import pandas as pd

from ssa.documents import mask_names
from ssa.engines import Session
from ssa.local_time import iso_local
from ssa.report.alert_reasons import alert_reasons
from ssa.report.exports import (
    ANOMALY_DETAIL_COLUMNS,
    ANOMALY_LEAD_COLUMNS,
    lead_with,
)
from ssa.settings import Settings
from ssa.wording import reais


def masked_names(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Customer names masked (LGPD) unless the settings say otherwise."""
    if settings.exports.mask_customer_names and "customer_name" in frame:
        frame = frame.assign(customer_name=mask_names(frame["customer_name"]))
    return frame


def anomalies_frame(session: Session, settings: Settings) -> pd.DataFrame:
    """Gold anomalies, highest risk first, with readable times and reasons,
    the columns people read first."""
    frame = session.query("gold/export_anomalies.sql", {})
    offset = settings.rules.utc_offset_seconds
    frame.insert(1, "created_at", iso_local(frame["created_at_epoch"], offset))
    frame.insert(8, "amount", reais(frame["amount_cents"]))
    frame["reasons"] = alert_reasons(frame, settings)
    frame = frame.drop(columns=["model_reasons", *ANOMALY_DETAIL_COLUMNS])
    return lead_with(masked_names(frame, settings), ANOMALY_LEAD_COLUMNS)
