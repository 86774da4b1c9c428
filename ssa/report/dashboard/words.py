"""The page's words: what the people who read the dashboard call each rule,
channel, level and figure of the detection report, in Portuguese, and numbers
in Brazilian format."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ssa.intake.ingest_log import GENERATOR_SOURCE, NATIVE_SOURCE, UNKNOWN_SOURCE
from ssa.intake.source_mapping import LABELS_FOLDER, reported_source
from ssa.local_time import day_date
from ssa.report import evaluation
from ssa.rules import DETECTION_RULES, SCOPES
from ssa.wording import Said, in_portuguese

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
    "fraud_to_catch": "Fraudes a pegar",
    "caught": "Pegas",
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
_FIRST_USE_UNKNOWN_SOME_PT = (
    "primeiro uso do dispositivo ainda desconhecido em algumas linhas "
    "(histórico desde {date})"
)
# evaluation.coverage_status's words; what follows them names rows or fields.
STATUSES = (
    Said("judged", "julgada"),
    # Before the sentences they extend, whose {fields} would swallow them.
    Said(
        "not judged: no {fields}; " + evaluation.FIRST_USE_UNKNOWN_SOME,
        "não julgada: sem {fields}; " + _FIRST_USE_UNKNOWN_SOME_PT,
    ),
    Said(
        "judged in part: some rows lack {fields}; " + evaluation.FIRST_USE_UNKNOWN_SOME,
        "julgada em parte: algumas linhas sem {fields}; " + _FIRST_USE_UNKNOWN_SOME_PT,
    ),
    Said(
        "not judged: " + evaluation.FIRST_USE_UNKNOWN,
        "não julgada: primeiro uso do dispositivo ainda desconhecido "
        "(histórico desde {date})",
    ),
    Said(
        "judged in part: " + evaluation.FIRST_USE_UNKNOWN_SOME,
        "julgada em parte: " + _FIRST_USE_UNKNOWN_SOME_PT,
    ),
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


ARRIVAL_STATUS = {
    "loaded": "carregado",
    "duplicate_file": "já recebido",
    "quarantined": "em quarentena",
}
# ingestion_log.source and the systems Bronze's rows come from, as the page
# names them; a mapping's name is shown as it is.
SOURCE_LABELS = {
    NATIVE_SOURCE: "contrato nativo",
    UNKNOWN_SOURCE: "desconhecida (registro anterior à coluna)",
    GENERATOR_SOURCE: "mês sintético (gerador)",
    LABELS_FOLDER: "rótulos (contrato nativo)",
}


def source_label(source: str) -> str:
    """A source as the page names it: a source's reports folder
    (``paysim/labels``) as its reports."""
    if source in SOURCE_LABELS:
        return SOURCE_LABELS[source]
    reporter = reported_source(source)
    return f"rótulos de {reporter}" if reporter else source


ARRIVAL_HEADERS = {
    "file_name": "Arquivo",
    "source": "Origem",
    "status": "Situação",
    "rows_loaded": "Linhas carregadas",
    "rows_rejected": "Rejeitadas",
    "rows_duplicate": "Repetidas",
    "rows_skipped": "Não são pagamentos",
    "received_at": "Recebido às",
}


def br_number(value: Any, decimals: int = 0) -> str:
    """1234.5 -> '1.234,5' (Brazilian separators); empty for NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def br_day(local_day: Any) -> str:
    """A local day number as dd/mm/aaaa; a dash where there is none."""
    if local_day is None or pd.isna(local_day):
        return "—"
    return day_date(local_day).strftime("%d/%m/%Y")
