"""An alert's reasons in words, as the CSV (English) and the dashboard
(Portuguese) say them: the rules' sentences first, then the learned voice's,
the model's top contributions or, without a model, what made the anomaly
score. One function for both, so the page and the file never disagree on
what an alert is said to be."""

from __future__ import annotations

import pandas as pd

from ssa.report.exports import REASONS, REASONS_PT, anomaly_reasons, reasons
from ssa.risk import model_scoring
from ssa.settings import Settings
from ssa.wording import Language

RULE_REASONS = {"en": REASONS, "pt": REASONS_PT}
# What leads the learned voice's sentences: (the model's, the anomaly score's).
LEARNED_PREFIXES = {"en": ("model: ", "unusual: "), "pt": ("modelo: ", "incomum: ")}


def alert_reasons(
    frame: pd.DataFrame, settings: Settings, language: Language = "en"
) -> pd.Series:
    """Each row's reasons joined by '; ': the rules', then the model's
    (stored in English: read back into Portuguese for the page) where a
    model scored the row, else the anomaly score's."""
    model_word, unusual_word = LEARNED_PREFIXES[language]
    rules = reasons(frame, RULE_REASONS[language], decimal_comma=language == "pt")
    unusual = unusual_word + anomaly_reasons(frame, settings, language)
    unusual = unusual.mask(unusual == unusual_word)
    said = frame["model_reasons"].astype("string")
    if language == "pt":
        said = said.map(model_scoring.reasons_in_portuguese, na_action="ignore")
        said = said.astype("string")
    learned = (model_word + said).where(frame["model_version"].notna(), unusual)
    has_rules = rules.str.len() > 0
    text = rules.mask(has_rules & learned.notna(), rules + "; " + learned)
    return text.mask(~has_rules & learned.notna(), learned)
