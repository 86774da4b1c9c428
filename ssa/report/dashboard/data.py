"""What the page shows, read from Gold and the bairro reference table in
one go, as people read it: local times, masked names, money in reais."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from ssa.documents import mask_names
from ssa.engines import open_warehouse
from ssa.intake.ingest_log import UNKNOWN_SOURCE
from ssa.local_time import local_date, utc_suffix
from ssa.report.alert_reasons import alert_reasons
from ssa.report.dashboard.places import Places, summarise
from ssa.report.dashboard.words import (
    ARRIVAL_HEADERS,
    ARRIVAL_STATUS,
    CHANNEL_LABELS,
    LEVEL_LABELS,
    RULE_LABELS,
    SIGNAL_LABELS,
    br_number,
    source_label,
)
from ssa.risk import model_scoring, risk_model
from ssa.settings import Settings
from ssa.wording import brl


@dataclass(frozen=True)
class DashboardData:
    """What the page shows, read from the warehouse in one go."""

    kpis: dict[str, Any]
    bairros: pd.DataFrame
    daily: pd.DataFrame
    hour_channel: pd.DataFrame
    top: pd.DataFrame
    arrivals: pd.DataFrame
    generated_at: str
    zone: str
    scoring: str = ""
    # The alert queue by source and place: what the map cannot draw.
    places: Places | None = None


def _per_thousand(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """Rate per 1,000, empty where the denominator is zero (no residents)."""
    rate = numerator.astype(float) * 1000 / denominator.where(denominator > 0)
    return rate.round(2)


def _br_time(epoch: pd.Series, utc_offset_seconds: int) -> pd.Series:
    local = pd.to_datetime(epoch + utc_offset_seconds, unit="s")
    return local.dt.strftime("%d/%m/%Y %H:%M")


def read_data(settings: Settings) -> DashboardData:
    """Every figure on the page, from Gold and the bairro reference table."""
    params = {"top_rows": settings.exports.dashboard_top_rows}
    with open_warehouse(settings).transaction() as session:
        kpis = session.query("gold/dashboard_kpis.sql", {}).iloc[0].to_dict()
        bairros = session.query("gold/dashboard_bairros.sql", {})
        daily = session.query("gold/dashboard_daily_flags.sql", {})
        hour_channel = session.query("gold/dashboard_hour_channel.sql", {})
        sources = session.query("gold/dashboard_sources.sql", {})
        top = session.query("gold/dashboard_top.sql", params)
        # Only a folder the watcher (or flows.ingest) has fed has a log.
        arrivals = (
            session.query(
                "gold/dashboard_arrivals.sql",
                {"arrival_rows": settings.exports.dashboard_arrival_rows},
            )
            if session.table_exists("ingestion_log")
            else pd.DataFrame(columns=["finished_at", *ARRIVAL_HEADERS])
        )
    reference = pd.read_csv(
        settings.paths.resolve(settings.paths.bairros_csv), encoding="utf-8"
    )
    bairros = (
        reference[["name", "population_2022", "zone"]]
        .rename(columns={"name": "bairro"})
        .merge(bairros, on="bairro", how="left")
    )
    for column in ("transactions", "amount_cents", "alerts", "flagged"):
        bairros[column] = bairros[column].fillna(0).astype("int64")
    bairros["per_1000_transactions"] = _per_thousand(
        bairros["alerts"], bairros["transactions"]
    )
    bairros["per_1000_residents"] = _per_thousand(
        bairros["alerts"], bairros["population_2022"]
    )
    bairros["amount"] = (bairros["amount_cents"] / 100).map(brl)
    daily = daily.assign(
        day=local_date(daily["local_day"]),
        flag=daily["anomaly_flag"].map(SIGNAL_LABELS).fillna(daily["anomaly_flag"]),
    )
    hour_channel = hour_channel.assign(
        channel_label=hour_channel["channel"]
        .map(CHANNEL_LABELS)
        .fillna(hour_channel["channel"]),
        per_1000_transactions=_per_thousand(
            hour_channel["alerts"], hour_channel["transactions"]
        ),
    )
    offset = settings.rules.utc_offset_seconds
    local_now = datetime.now(UTC) + timedelta(seconds=offset)
    return DashboardData(
        kpis=kpis,
        bairros=bairros,
        daily=daily,
        hour_channel=hour_channel,
        top=top_table(top, settings),
        arrivals=arrival_table(arrivals, offset),
        generated_at=local_now.strftime("%d/%m/%Y %H:%M:%S"),
        zone=f"UTC{utc_suffix(offset)}",
        scoring=scoring_note(settings, kpis.get("model_version")),
        places=summarise(sources, settings.paths.sources_path),
    )


NO_MODEL = (
    "Pontuação de risco: as regras e a pontuação de anomalia relativa ao "
    "cliente (não precisa de rótulos); nenhum modelo de risco treinado "
    "(python -m flows.train treina um)."
)


def _iso_to_br(day: str) -> str:
    """A window's bound as the page says it: a day, or a day and an hour
    where the split fell inside a day (a span of a day or two)."""
    moment = datetime.fromisoformat(day)
    return moment.strftime("%d/%m/%Y %H:%M" if "T" in day else "%d/%m/%Y")


def _span_pt(window: Mapping[str, Any]) -> str:
    return f"de {_iso_to_br(window['from'])} a {_iso_to_br(window['until'])}"


def scoring_note(settings: Settings, gold_version: Any) -> str:
    """What scored Gold, said under the headline: the model's version and
    windows only when it is the model whose scores Gold holds (a model
    trained since Gold was built has not scored these rows)."""
    path = model_scoring.model_path(settings)
    try:
        model = risk_model.load(path) if path is not None else None
    except risk_model.ModelError:
        model = None
    current = f"v{model['version']}" if model else "nenhum legível"
    if gold_version is None or pd.isna(gold_version):
        if model is None and path is None:
            return NO_MODEL
        return (
            "Pontuação de risco: as regras e a pontuação de anomalia relativa "
            "ao cliente; Gold foi pontuado sem modelo (o modelo de risco "
            f"atual, {current}, ainda não pontuou estas linhas)."
        )
    version = int(gold_version)
    if model is None or int(model["version"]) != version:
        return (
            f"Pontuação de risco: as regras e o modelo de risco v{version}, "
            f"que não é o modelo atual ({current}): Gold foi pontuado por "
            "outro modelo, cujas janelas não estão aqui."
        )
    windows = model["windows"]
    return (
        f"Pontuação de risco: as regras e o modelo de risco v{version}, "
        f"treinado com as transações {_span_pt(windows['training'])} e "
        f"calibrado com as {_span_pt(windows['calibration'])}."
    )


def arrival_table(frame: pd.DataFrame, utc_offset_seconds: int) -> pd.DataFrame:
    """The latest files as the live panel lists them, local times."""
    received = pd.to_datetime(frame["finished_at"], utc=True, format="ISO8601")
    local = received + pd.Timedelta(seconds=utc_offset_seconds)
    shown = frame.assign(
        source=frame["source"].fillna(UNKNOWN_SOURCE).map(source_label),
        status=frame["status"].map(ARRIVAL_STATUS).fillna(frame["status"]),
        received_at=local.dt.strftime("%H:%M:%S %d/%m"),
    )[list(ARRIVAL_HEADERS)]
    for column in ("rows_loaded", "rows_rejected", "rows_duplicate", "rows_skipped"):
        shown[column] = shown[column].map(lambda v: br_number(int(v)))
    return shown.rename(columns=ARRIVAL_HEADERS)


def top_table(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The riskiest rows as a person reads them: names masked unless told."""
    names = frame["customer_name"].astype("string")
    if settings.exports.mask_customer_names:
        names = mask_names(names)
    return pd.DataFrame(
        {
            "Quando": _br_time(
                frame["created_at_epoch"], settings.rules.utc_offset_seconds
            ),
            # A source with no customer (customers: none) names nobody.
            "Cliente": names.fillna(frame["customer_id"]).fillna("—"),
            "CPF": frame["customer_cpf_masked"],
            "Canal": frame["channel"].map(CHANNEL_LABELS).fillna(frame["channel"]),
            "Valor": (frame["amount_cents"] / 100).map(brl),
            "Bairro": frame["bairro"].fillna("—"),
            "Sinal": frame["anomaly_flag"]
            .map(RULE_LABELS)
            .fillna(frame["anomaly_flag"]),
            "Risco": frame["risk_score"].astype(int),
            "Nível": frame["risk_level"].map(LEVEL_LABELS).fillna(frame["risk_level"]),
            "Motivos": alert_reasons(frame, settings, "pt")
            if len(frame)
            else pd.Series(dtype="string"),
        }
    )
