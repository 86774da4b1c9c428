"""The dashboard: one self-contained HTML page of what Gold found, offline.

Altair builds the charts (Vega-Lite specs) and vl-convert supplies the Vega
JavaScript to inline, so ``data/dashboard.html`` opens from a laptop, a file
share or an e-mail attachment with no network: plotly's map fetches its geo
assets from a CDN even with the base map off, and folium loads Leaflet from
one. The bairro map is drawn from the polygons in ``data/reference`` (their
rings clockwise, as Vega needs). Labels are Portuguese, numbers and money in
Brazilian format (R$ 1.234,56), days dd/mm and times in the local zone the
rules use (``RuleSettings.utc_offset_seconds``).

Live mode: opened as ``dashboard.html#ao-vivo`` the page reads
``dashboard-live.js``, a few kilobytes every write leaves beside it, every
``exports.dashboard_live_poll_seconds``: the headline figures and the latest
files from the watched folder change in place after each refresh, and the
map and charts follow with a reload at most every
``exports.dashboard_live_reload_seconds``. The feed is a script, not JSON: a
page opened from disk (``file://``) may load a script beside it, where a
browser refuses it ``fetch``. Without the hash the page asks for nothing.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import altair as alt
import jinja2
import pandas as pd
import vl_convert
from markupsafe import Markup, escape

from ssa.documents import mask_names
from ssa.engines import open_warehouse
from ssa.report import evaluation
from ssa.report.alert_reasons import alert_reasons
from ssa.report.exports import Said, brl, in_portuguese, utc_suffix
from ssa.risk import model_scoring, risk_model
from ssa.rules import DETECTION_RULES, RULES, SCOPES
from ssa.settings import Settings

LOCALE = "pt-BR"
# What the people who read the dashboard call each rule; the sentences of
# an alert's reasons in Portuguese are beside the English ones (REASONS_PT,
# exports.ANOMALY_REASONS, model_scoring.MODEL_REASONS).
RULE_LABELS = {rule.name: rule.label_pt for rule in DETECTION_RULES}
# An alert no rule raised: the learned voice's (the model, or the anomaly
# score), as the daily chart names it.
LEARNED_LABEL = "Sem regra: modelo ou anomalia"
SIGNAL_LABELS = {**RULE_LABELS, "Normal": LEARNED_LABEL}
# Vega's ten category colours hold the ten rules; the learned voice's
# alerts stand apart in near-black rather than repeat the first rule's blue.
RULE_COLOURS = (
    "#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b",
    "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
)  # fmt: skip
LEARNED_COLOUR = "#303030"
# The map and the hour chart count the alert queue, as the headline does;
# their tooltips say, beside it, how many of those rows a rule flagged.
FLAGGED_TITLE = "Sinalizadas pelas regras"
CHANNEL_LABELS = {
    "pix": "Pix",
    "credit": "Crédito",
    "debit": "Débito",
    "boleto": "Boleto",
}
LEVEL_LABELS = {
    "critical": "crítico",
    "high": "alto",
    "medium": "médio",
    "low": "baixo",
}
# Detection-report keys (its tables' columns, its figures' names) in
# Portuguese. The report keeps its English keys (the CSV, the markdown):
# this is the page's mapping only, and a key it does not know keeps its name.
REPORT_HEADERS = {
    "label_set": "Conjunto de rótulos",
    "rule": "Regra",
    "flagged": "Sinalizadas",
    "true_positives": "Acertos",
    "false_positives": "Falsos positivos",
    "false_negatives": "Não detectadas",
    "lookalikes_flagged": "Sósias legítimos sinalizados",
    "planted": "Plantadas",
    "caught_own_scenario": "Pegas no próprio cenário",
    "precision": "Precisão",
    "recall": "Cobertura (recall)",
    "f1": "F1",
    "precision_at_real_prevalence": "Precisão na prevalência real",
    "rows_applicable": "Linhas a que se aplica",
    "rows_judged": "Linhas julgadas",
    "rows_not_judged": "Linhas não julgadas",
    "status": "Situação",
    "scorer": "Pontuação",
    "labelled_rows": "Linhas rotuladas",
    "prevalence": "Prevalência",
    "average_precision": "Precisão média (PR-AUC)",
    "fraud_rows": "Linhas de fraude",
    "scored_rows": "Linhas pontuadas",
    "alerts_per_day": "Alertas por dia",
    "daily_budget_rows": "Lugares no orçamento diário de alertas",
    "daily_budget_alerts": "Alertas levantados no orçamento diário",
    "recall_at_daily_budget": "Cobertura no orçamento diário de alertas",
    "precision_at_daily_budget": "Precisão no orçamento diário de alertas",
    "precision_at_daily_budget_real_prevalence": (
        "Precisão no orçamento diário de alertas, na prevalência real"
    ),
}
# Keys made from a setting (``evaluation.top_k``): one pattern each.
REPORT_HEADER_PATTERNS = (
    Said("precision_at_{k:d}", "Precisão nos {k:d} primeiros"),
    Said(
        "precision_at_{k:d}_real_prevalence",
        "Precisão nos {k:d} primeiros, na prevalência real",
    ),
    Said("rows_at_{k:d}", "Lugares contados nos {k:d} primeiros"),
    Said("alerts_at_{k:d}", "Alertas levantados nos {k:d} primeiros"),
)
LABEL_SETS = {
    "synthetic": "sintéticos (fraude plantada pelo gerador)",
    "reported": "reportados",
    "unlabelled": "sem rótulo",
    "none": "nenhum",
}
# evaluation.SCORERS in Portuguese, by the same column; the same fields.
SCORERS_PT = {
    "risk_score": "pontuação de risco de Gold (combinada)",
    "rules_score": "só as regras",
    "model_probability": "só o modelo de risco",
    "anomaly_points": "só a pontuação de anomalia (sem rótulos)",
    "baseline_amount_p99": "valor acima do percentil 99",
    "baseline_amount_vs_median": "valor acima de {ratio:g}x a mediana corrente do"
    " cliente",
}
SCORERS = tuple(
    Said(en, SCORERS_PT[column])
    for column, en in evaluation.SCORERS.items()
    if column in SCORERS_PT
)
# evaluation.coverage_status's words; what follows them names rows or fields.
STATUSES = (
    Said("judged", "julgada"),
    Said("not applicable: no {what}", "não se aplica: sem {what}"),
    Said("not judged: no {fields}", "não julgada: sem {fields}"),
    Said(
        "judged in part: some rows lack {fields}",
        "julgada em parte: algumas linhas sem {fields}",
    ),
)
SCOPES_PT = {
    SCOPES["all"][0]: "linhas",
    SCOPES["pix"][0]: "linhas Pix",
    SCOPES["card"][0]: "linhas de cartão (crédito, débito)",
    SCOPES["in_person"][0]: "linhas presenciais (sem pagamentos online com cartão)",
    "lat/lon inside the region": "lat/lon dentro da região",
    " or ": " ou ",
}


def _status_pt(value: Any) -> Any:
    """A rule's coverage status (evaluation.coverage_status) in Portuguese;
    the rows and fields it names too, where known."""
    if not isinstance(value, str):
        return value
    text = in_portuguese(value, STATUSES, sep="\n")  # one sentence, not split
    for en, pt in SCOPES_PT.items():
        text = text.replace(en, pt)
    return text


def _scorer_pt(value: Any) -> Any:
    """A scorer's name (evaluation.SCORERS, a baseline's filled with its
    ratio) in Portuguese; unknown: as it is."""
    return in_portuguese(value, SCORERS, sep="\n") if isinstance(value, str) else value


# The report's values in words, by key: each in Portuguese where known.
REPORT_VALUES = {
    "label_set": lambda value: LABEL_SETS.get(value, value),
    "rule": lambda value: RULE_LABELS.get(value, value),
    "scorer": _scorer_pt,
    "status": _status_pt,
}


def report_header(key: str) -> str:
    """A detection-report key as the page heads it; unknown: the key."""
    if key in REPORT_HEADERS:
        return REPORT_HEADERS[key]
    return in_portuguese(key, REPORT_HEADER_PATTERNS, "\n")


# vl-convert names Vega-Lite versions "v5_20"; Altair's schema is "v5.20.1".
VL_VERSION = "_".join(alt.SCHEMA_VERSION.split(".")[:2])
MAP_WIDTH = 460
MAP_HEIGHT = 420
NO_DATA_FILL = "#e6e6e6"
# The polygons go into the map spec once, by name, for all its layers.
MAP_DATASET = "bairros-poligonos"
LIVE_HASH = "#ao-vivo"
ARRIVAL_STATUS = {
    "loaded": "carregado",
    "duplicate_file": "já recebido",
    "quarantined": "em quarentena",
}
ARRIVAL_HEADERS = {
    "file_name": "Arquivo",
    "status": "Situação",
    "rows_loaded": "Linhas carregadas",
    "rows_rejected": "Rejeitadas",
    "rows_duplicate": "Repetidas",
    "received_at": "Recebido às",
}


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


def _per_thousand(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """Rate per 1,000, empty where the denominator is zero (no residents)."""
    rate = numerator.astype(float) * 1000 / denominator.where(denominator > 0)
    return rate.round(2)


def _iso_day(local_day: pd.Series) -> pd.Series:
    return pd.to_datetime(local_day, unit="D").dt.strftime("%Y-%m-%d")


def _br_day(local_day: Any) -> str:
    if local_day is None or pd.isna(local_day):
        return "—"
    return (datetime(1970, 1, 1) + timedelta(days=int(local_day))).strftime("%d/%m/%Y")


def _br_time(epoch: pd.Series, utc_offset_seconds: int) -> pd.Series:
    local = pd.to_datetime(epoch + utc_offset_seconds, unit="s")
    return local.dt.strftime("%d/%m/%Y %H:%M")


def br_number(value: Any, decimals: int = 0) -> str:
    """1234.5 -> '1.234,5' (Brazilian separators); empty for NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def read_data(settings: Settings) -> DashboardData:
    """Every figure on the page, from Gold and the bairro reference table."""
    params = {"top_rows": settings.exports.dashboard_top_rows}
    with open_warehouse(settings).transaction() as session:
        kpis = session.query("gold/dashboard_kpis.sql", {}).iloc[0].to_dict()
        bairros = session.query("gold/dashboard_bairros.sql", {})
        daily = session.query("gold/dashboard_daily_flags.sql", {})
        hour_channel = session.query("gold/dashboard_hour_channel.sql", {})
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
        day=_iso_day(daily["local_day"]),
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
    )


NO_MODEL = (
    "Pontuação de risco: as regras e a pontuação de anomalia relativa ao "
    "cliente (não precisa de rótulos); nenhum modelo de risco treinado "
    "(python -m flows.train treina um)."
)


def _iso_to_br(day: str) -> str:
    return datetime.fromisoformat(day).strftime("%d/%m/%Y")


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
        status=frame["status"].map(ARRIVAL_STATUS).fillna(frame["status"]),
        received_at=local.dt.strftime("%H:%M:%S %d/%m"),
    )[list(ARRIVAL_HEADERS)]
    for column in ("rows_loaded", "rows_rejected", "rows_duplicate"):
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
            "Motivos": alert_reasons(frame, settings.rules.utc_offset_seconds, "pt")
            if len(frame)
            else pd.Series(dtype="string"),
        }
    )


def load_map(path: Path) -> list[dict[str, Any]]:
    """The bairro polygons (features with a ``bairro`` property)."""
    if not path.is_file():
        raise FileNotFoundError(f"bairro map not found: {path}")
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def _bairro_map(
    features: list[dict[str, Any]],
    bairros: pd.DataFrame,
    field: str,
    title: str,
) -> alt.LayerChart:
    """Every bairro drawn grey, then coloured where the rate exists: the
    rate of the alert queue, as the headline counts it, the rule flags
    beside it in the tooltip."""
    columns = [
        "bairro",
        "zone",
        "transactions",
        "alerts",
        "flagged",
        "amount",
        "population_2022",
        field,
    ]
    rates = bairros[field].dropna()
    top = float(rates.quantile(0.95)) if len(rates) else 1.0
    top = top if top > 0 else float(rates.max() or 1.0)
    shapes = alt.Data(name=MAP_DATASET)
    base = alt.Chart(shapes).mark_geoshape(
        fill=NO_DATA_FILL, stroke="white", strokeWidth=0.4
    )
    coloured = (
        alt.Chart(shapes)
        .mark_geoshape(stroke="white", strokeWidth=0.4)
        .transform_lookup(
            lookup="properties.bairro",
            from_=alt.LookupData(
                data=bairros[columns], key="bairro", fields=columns[1:]
            ),
        )
        .transform_calculate(bairro="datum.properties.bairro")
        .transform_filter(f"isValid(datum['{field}'])")
        .encode(
            color=alt.Color(
                f"{field}:Q",
                title=title,
                # A bairro with few residents (Centro Administrativo: 151)
                # would take the whole range: the colours stop at the 95th
                # percentile, the tooltip keeps the value.
                scale=alt.Scale(
                    scheme="orangered", domainMin=0, domainMax=top, clamp=True
                ),
                legend=alt.Legend(
                    orient="bottom", format=",.2~f", gradientLength=260, titleLimit=400
                ),
            ),
            tooltip=[
                alt.Tooltip("bairro:N", title="Bairro"),
                alt.Tooltip("zone:N", title="Região"),
                alt.Tooltip(f"{field}:Q", title=title, format=",.2f"),
                alt.Tooltip("alerts:Q", title="Alertas", format=",d"),
                alt.Tooltip("flagged:Q", title=FLAGGED_TITLE, format=",d"),
                alt.Tooltip("transactions:Q", title="Transações", format=",d"),
                alt.Tooltip("amount:N", title="Valor movimentado"),
                alt.Tooltip("population_2022:Q", title="Moradores (2022)", format=",d"),
            ],
        )
    )
    return (
        alt.layer(base, coloured)
        .project(type="mercator")
        .properties(width=MAP_WIDTH, height=MAP_HEIGHT, title=title)
    )


def _signal_colours() -> list[str]:
    """One colour per rule (cycling past ten), the learned voice's last."""
    rules = [RULE_COLOURS[i % len(RULE_COLOURS)] for i in range(len(RULES))]
    return [*rules, LEARNED_COLOUR]


def charts(data: DashboardData, features: list[dict[str, Any]]) -> dict[str, Any]:
    """The page's Vega-Lite specs by element id."""
    maps = alt.hconcat(
        _bairro_map(
            features,
            data.bairros,
            "per_1000_transactions",
            "Alertas por 1.000 transações",
        ),
        _bairro_map(
            features,
            data.bairros,
            "per_1000_residents",
            "Alertas por 1.000 moradores (Censo 2022)",
        ),
    ).resolve_scale(color="independent")
    day = alt.X(
        "day:T",
        title="Dia",
        timeUnit="utcyearmonthdate",
        axis=alt.Axis(format="%d/%m", labelAngle=0),
    )
    signals = [*(RULE_LABELS[r] for r in RULES), LEARNED_LABEL]
    daily = (
        alt.Chart(data.daily)
        .mark_bar()
        .encode(
            x=day,
            y=alt.Y("sum(anomalies):Q", title="Alertas"),
            color=alt.Color(
                "flag:N",
                title="Sinal",
                sort=signals,
                scale=alt.Scale(domain=signals, range=_signal_colours()),
                legend=alt.Legend(orient="right"),
            ),
            tooltip=[
                alt.Tooltip(
                    "day:T", title="Dia", format="%d/%m/%Y", timeUnit="utcyearmonthdate"
                ),
                alt.Tooltip("flag:N", title="Sinal"),
                alt.Tooltip("sum(anomalies):Q", title="Alertas", format=",d"),
            ],
        )
        .properties(width=760, height=260, title="Alertas por dia e sinal")
    )
    hourly = (
        alt.Chart(data.hour_channel)
        .mark_rect()
        .encode(
            x=alt.X("local_hour:O", title="Hora local"),
            y=alt.Y(
                "channel_label:N",
                title="Canal",
                sort=list(CHANNEL_LABELS.values()),
            ),
            color=alt.Color(
                "per_1000_transactions:Q",
                title="Alertas por 1.000",
                scale=alt.Scale(scheme="orangered"),
            ),
            tooltip=[
                alt.Tooltip("local_hour:O", title="Hora"),
                alt.Tooltip("channel_label:N", title="Canal"),
                alt.Tooltip("alerts:Q", title="Alertas", format=",d"),
                alt.Tooltip("flagged:Q", title=FLAGGED_TITLE, format=",d"),
                alt.Tooltip("transactions:Q", title="Transações", format=",d"),
                alt.Tooltip(
                    "per_1000_transactions:Q",
                    title="Alertas por 1.000",
                    format=",.2f",
                ),
            ],
        )
        .properties(width=760, height=160, title="Alertas por hora do dia e canal")
    )
    map_spec = maps.to_dict()
    map_spec.setdefault("datasets", {})[MAP_DATASET] = features
    return {
        "mapa": map_spec,
        "por-dia": daily.to_dict(),
        "por-hora": hourly.to_dict(),
    }


def _report_tables(detection: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The detection report's tables, whatever figures it carries: each frame
    with Portuguese headers and values where known, each dict of figures as
    key/value."""
    if not detection:
        return []
    tables = []
    rules = detection.get("rules")
    if isinstance(rules, pd.DataFrame) and len(rules):
        shown = rules.copy()
        for column, translate in REPORT_VALUES.items():
            if column in shown:
                shown[column] = shown[column].map(translate)
        tables.append(
            {
                "title": "Cada regra contra a fraude conhecida",
                "frame": _formatted(shown.rename(columns=report_header)),
            }
        )
    score = detection.get("score")
    if isinstance(score, Mapping) and score:
        rows = [
            {
                "Medida": " · ".join(report_header(k) for k in key),
                "Valor": _cell(REPORT_VALUES.get(key[-1], _same)(value)),
            }
            for key, value in _flatten(score).items()
        ]
        tables.append(
            {
                "title": "Pontuação de risco: qualidade do ranking e linhas de base",
                "frame": pd.DataFrame(rows),
            }
        )
    return tables


def _same(value: Any) -> Any:
    return value


def _flatten(
    values: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], Any]:
    """Nested figures by their path of keys."""
    out: dict[tuple[str, ...], Any] = {}
    for key, value in values.items():
        name = (*prefix, str(key))
        if isinstance(value, Mapping):
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return br_number(value)
    if isinstance(value, float):
        return br_number(value, 0 if value.is_integer() and abs(value) > 1 else 3)
    return str(value)


def _formatted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).map(_cell)


def _script_json(spec: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(spec, ensure_ascii=False).replace("</", "<\\/")


_JINJA = jinja2.Environment(autoescape=True)
KPI_TEMPLATE = _JINJA.from_string(
    """{% for kpi in kpis %}<div class="kpi"><div class="value">{{ kpi.value }}</div>
<div class="label">{{ kpi.label }}</div></div>
{% endfor %}"""
)
ARRIVALS_TEMPLATE = _JINJA.from_string(
    """{% if table %}{{ table }}{% else %}<p class="note">Nenhum arquivo recebido
pela pasta vigiada (<code>incoming/</code>) ainda.</p>{% endif %}"""
)
TEMPLATE = _JINJA.from_string(
    """<!DOCTYPE html>
<html lang="pt-BR">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SSA-Fintech · Painel de anomalias</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 16px 24px; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: 0; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.sub { color: #666; margin-top: 4px; }
.kpis { display: flex; gap: 16px; flex-wrap: wrap; margin: 20px 0; }
.kpi { flex: 1 1 150px; border: 1px solid #ddd; border-radius: 8px;
       padding: 12px 16px; background: #fafafa; }
.kpi .value { font-size: 1.4rem; font-weight: 600; white-space: nowrap; }
.kpi .label { color: #555; font-size: .9rem; }
table { border-collapse: collapse; font-size: .85rem; width: 100%; }
th, td { border-bottom: 1px solid #eee; padding: 4px 6px; text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.num, td.nowrap { text-align: right; white-space: nowrap; }
.scroll { max-height: 640px; overflow-y: auto; border: 1px solid #eee; }
.note { color: #666; font-size: .85rem; }
.live { color: #666; font-size: .85rem; }
.live.on { color: #0a7d32; font-weight: 600; }
</style>
<script>{{ vega_script }}</script>
</head>
<body>
<h1>SSA-Fintech · Anomalias em Salvador</h1>
<p class="sub">Período {{ period }} · gerado em {{ generated_at }} ({{ zone }})
· horários locais de Salvador</p>
<p class="live" id="ao-vivo-estado">Ao vivo: desligado ·
<a id="ao-vivo-botao" href="{{ live_hash }}">ligar</a></p>
<section class="kpis" id="kpis">
{{ kpis_html }}</section>
<p class="note" id="modelo">{{ scoring }}</p>
<h2>Chegando agora</h2>
<div id="chegando">{{ arrivals_html }}</div>
<h2>Mapa dos 170 bairros</h2>
<div id="mapa" class="chart"></div>
<p class="note">Bairros em cinza: sem transações (ou sem moradores no Censo
2022). Cores até o percentil 95 (o valor exato na dica ao passar o mouse).
Limites: Prefeitura Municipal do Salvador (Lei 9.278/2017) / IBGE.</p>
<h2>Ao longo do período</h2>
<div id="por-dia" class="chart"></div>
<div id="por-hora" class="chart"></div>
<h2>As {{ top_rows }} transações de maior risco</h2>
<div class="scroll">{{ top_html }}</div>
<h2>Relatório de detecção</h2>
{% for table in report %}<h3>{{ table.title }}</h3>
{{ table.html }}
{% else %}<p class="note">Sem relatório de detecção nesta execução.</p>
{% endfor %}
<script>
const formatLocale = {{ format_locale }};
const timeFormatLocale = {{ time_format_locale }};
const specs = {{ specs }};
window.ssaCharts = Promise.all(Object.entries(specs).map(([id, spec]) =>
  vegaEmbed("#" + id, spec, {renderer: "svg", actions: false,
                             formatLocale, timeFormatLocale})));
</script>
<script>
(() => {
  const live = {{ live }};
  const state = document.getElementById("ao-vivo-estado");
  const scrollKey = "ssa-dashboard-scroll";
  const saved = sessionStorage.getItem(scrollKey);
  if (saved !== null) {
    sessionStorage.removeItem(scrollKey);
    window.ssaCharts.then(() => window.scrollTo(0, Number(saved)));
  }
  window.addEventListener("hashchange", () => location.reload());
  if (location.hash !== live.hash) return;
  const loadedAt = Date.now();
  let reloading = false;
  const say = (text) => {
    state.className = "live on";
    state.innerHTML = "";
    state.append(text + " · ");
    const off = document.createElement("a");
    off.href = "#";
    off.textContent = "desligar";
    state.append(off);
  };
  say("Ao vivo: aguardando a próxima atualização");
  window.ssaLiveFeeds = 0;
  window.ssaLive = (feed) => {
    window.ssaLiveFeeds += 1;
    document.getElementById("kpis").innerHTML = feed.kpis_html;
    document.getElementById("chegando").innerHTML = feed.arrivals_html;
    say("Ao vivo: Gold de " + feed.generated_at);
    if (feed.stamp === live.stamp || reloading) return;
    reloading = true;  // the map and charts: a reload, at most so often
    setTimeout(() => {
      sessionStorage.setItem(scrollKey, String(window.scrollY));
      location.reload();
    }, Math.max(0, loadedAt + live.reload_ms - Date.now()));
  };
  const poll = () => {
    const script = document.createElement("script");
    script.src = live.feed + "?t=" + Date.now();
    script.onerror = () => say("Ao vivo: sem " + live.feed + " ao lado da página");
    const next = () => { script.remove(); setTimeout(poll, live.poll_ms); };
    script.addEventListener("load", next);
    script.addEventListener("error", next);
    document.head.appendChild(script);
  };
  poll();
})();
</script>
</body>
</html>
"""
)


def _html_table(frame: pd.DataFrame, table_id: str) -> str:
    """A plain table; numbers right-aligned."""
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    numeric = {
        c
        for c in frame.columns
        if frame[c].astype(str).str.fullmatch(r"[-R$\s\d.,%—]+").all()
    }
    rows = []
    for record in (
        frame.astype(object).where(frame.notna(), "—").itertuples(index=False)
    ):
        cells = "".join(
            f'<td class="num">{escape(v)}</td>'
            if c in numeric
            else f"<td>{escape(v)}</td>"
            for c, v in zip(frame.columns, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _kpis(kpis: Mapping[str, Any]) -> list[dict[str, str]]:
    """The headline: the alert queue (gold_anomalies, what an analyst opens),
    and how many of its rows the rules flagged."""
    transactions = int(kpis.get("transactions") or 0)
    alerts = int(kpis.get("alerts") or 0)
    flagged = int(kpis.get("flagged") or 0)
    share = alerts / transactions * 100 if transactions else 0.0
    return [
        {"label": "Transações", "value": br_number(transactions)},
        {
            "label": f"Alertas ({br_number(share, 2)} %) · "
            f"{br_number(flagged)} pelas regras",
            "value": br_number(alerts),
        },
        {
            "label": "Valor em alerta",
            "value": brl(float(kpis.get("alert_cents") or 0) / 100),
        },
        {
            "label": "Risco médio dos alertas (0–100)",
            "value": br_number(float(kpis.get("mean_risk_score") or 0), 1),
        },
        {
            "label": "Alertas críticos",
            "value": br_number(int(kpis.get("critical") or 0)),
        },
    ]


@functools.cache
def _bundle_in_memory(cache_file: Path) -> str:
    if cache_file.is_file():
        return cache_file.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle(vl_version=VL_VERSION)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_name(f".{cache_file.name}.tmp")
    tmp.write_text(bundle, encoding="utf-8")
    os.replace(tmp, cache_file)
    return bundle


def vega_bundle(cache_dir: Path) -> str:
    """Vega, Vega-Lite and vega-embed as one script (about 0.9 MB).

    vl-convert takes seconds to bundle it, on every drop's refresh: it is
    kept on disk per vl-convert and Vega-Lite version, and in memory for a
    watcher's later refreshes."""
    name = f"vega-embed-{vl_convert.__version__}-{VL_VERSION}.js"
    return _bundle_in_memory(cache_dir / name)


def _arrivals_html(data: DashboardData) -> Markup:
    table = _html_table(data.arrivals, "chegando-tabela") if len(data.arrivals) else ""
    return Markup(ARRIVALS_TEMPLATE.render(table=Markup(table)))


def _kpis_html(data: DashboardData) -> Markup:
    return Markup(KPI_TEMPLATE.render(kpis=_kpis(data.kpis)))


def live_feed(data: DashboardData, stamp: str) -> str:
    """dashboard-live.js: what live mode changes in place, and the stamp of
    the page written with it (a newer stamp: time to redraw the charts)."""
    feed = {
        "stamp": stamp,
        "generated_at": data.generated_at,
        "kpis_html": str(_kpis_html(data)),
        "arrivals_html": str(_arrivals_html(data)),
    }
    return f"window.ssaLive && window.ssaLive({_script_json(feed)});\n"


def render_html(
    data: DashboardData,
    specs: Mapping[str, Any],
    detection: Mapping[str, Any] | None,
    top_rows: int,
    cache_dir: Path,
    live: Mapping[str, Any],
) -> str:
    """The whole page, the Vega bundle inlined: no request leaves it (unless
    opened in live mode, and then only for the feed beside it)."""
    bundle = vega_bundle(cache_dir)
    report = [
        {
            "title": table["title"],
            "html": Markup(_html_table(table["frame"], f"relatorio-{i}")),
        }
        for i, table in enumerate(_report_tables(detection))
    ]
    period = (
        f"{_br_day(data.kpis.get('first_local_day'))} a "
        f"{_br_day(data.kpis.get('last_local_day'))}"
    )
    return TEMPLATE.render(
        vega_script=Markup(bundle.replace("</script", "<\\/script")),
        period=period,
        generated_at=data.generated_at,
        zone=data.zone,
        kpis_html=_kpis_html(data),
        scoring=data.scoring,
        arrivals_html=_arrivals_html(data),
        live_hash=LIVE_HASH,
        live=Markup(_script_json({"hash": LIVE_HASH, **live})),
        top_rows=top_rows,
        top_html=Markup(_html_table(data.top, "top-anomalias")),
        report=report,
        format_locale=Markup(_script_json(vl_convert.get_format_locale(LOCALE))),
        time_format_locale=Markup(
            _script_json(vl_convert.get_time_format_locale(LOCALE))
        ),
        specs=Markup(_script_json(specs)),
    )


def write_dashboard(
    settings: Settings, detection: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Write data/dashboard.html atomically; returns its path, size, the
    alerts and the rule flags it counted, and the chart specs (for a PNG)."""
    data = read_data(settings)
    specs = charts(data, load_map(settings.paths.resolve(settings.paths.bairros_map)))
    paths, exports = settings.paths, settings.exports
    stamp = str(time.time_ns())
    html = render_html(
        data,
        specs,
        detection,
        exports.dashboard_top_rows,
        paths.cache_path,
        {
            "stamp": stamp,
            "feed": paths.dashboard_live_js.name,
            "poll_ms": round(exports.dashboard_live_poll_seconds * 1000),
            "reload_ms": round(exports.dashboard_live_reload_seconds * 1000),
        },
    )
    path = paths.dashboard_html
    # The page first: a live page that sees the new stamp reloads into it.
    _replace(path, html)
    _replace(paths.dashboard_live_js, live_feed(data, stamp))
    return {
        "file": str(path),
        "bytes": path.stat().st_size,
        "bairros_with_data": int((data.bairros["transactions"] > 0).sum()),
        "alerts": int(data.kpis.get("alerts") or 0),
        "flagged": int(data.kpis.get("flagged") or 0),
        "specs": specs,
    }


def _replace(path: Path, text: str) -> None:
    """Write whole or not at all: a browser polling the file never reads half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def snapshot_png(specs: Mapping[str, Any]) -> bytes:
    """The map and the daily chart as one PNG, for a run page's artifact."""
    page = {
        "$schema": specs["mapa"].get("$schema"),
        "vconcat": [
            {k: v for k, v in spec.items() if k not in ("$schema", "config")}
            for spec in (specs["mapa"], specs["por-dia"])
        ],
        "config": specs["mapa"].get("config", {}),
        "datasets": {
            **specs["mapa"].get("datasets", {}),
            **specs["por-dia"].get("datasets", {}),
        },
    }
    for part in page["vconcat"]:
        part.pop("datasets", None)
    return vl_convert.vegalite_to_png(
        page,
        scale=1,
        vl_version=VL_VERSION,
        format_locale=LOCALE,
        time_format_locale=LOCALE,
    )
