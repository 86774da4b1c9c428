"""Score transactions with the trained risk model, between Silver and Gold.

The probabilities and, for the rows the model would raise, its reasons in
words go into ``gold_model_scores``; ``gold_transaction_risk.sql`` combines
them with the rules. Without a model file the table is left empty and Gold
scores with the rules and the anomaly score, which needs no labels. After
an incremental Silver refresh only the changed rows are scored again (a
row's score depends on its own features only), unless the model changed
since the table was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ssa.engines import Session, Warehouse
from ssa.local_time import SECONDS_PER_DAY, SECONDS_PER_HOUR, local_epoch
from ssa.models import SCORES_TABLE, SINCE
from ssa.risk import risk_model, source_features
from ssa.rules import DETECTION_RULES, RULES
from ssa.settings import Settings
from ssa.wording import Language, Said, in_portuguese

TABLE = SCORES_TABLE
# The fraud probability of each rules score, from the model file.
RULES_TABLE = "gold_rule_probabilities"
# Reasons are worked out for rows whose probability reaches this share of
# level_medium: the rows an analyst may open. TreeSHAP on every row of a big
# month would cost more than the scoring itself.
REASONS_FROM_SHARE = 0.5
TOP_REASONS = 3
# Rows read and scored at a time: big enough that LightGBM's per-call cost
# vanishes, small enough that two chunks of Python objects stay small.
CHUNK_ROWS = 100_000
# LightGBM threads of the scoring worker: one, because the other core reads
# the next chunk meanwhile; two of its threads beside the reader were slower
# on two cores (OpenMP threads spin while they wait for each other).
SCORE_THREADS = 1
SCORE_COLUMNS = (
    "transaction_id",
    "model_version",
    "model_probability",
    "model_reasons",
)


def model_path(settings: Settings) -> Path | None:
    """The model file this run scores with: the one settings name, else the
    newest version in the models folder; None when there is none."""
    if settings.model.model_file is not None:
        return settings.paths.resolve(settings.model.model_file)
    return risk_model.latest(settings.paths.models_path)


def held_back(settings: Settings) -> tuple[int, int, str] | None:
    """(version, epoch, local date or time) where the scoring model's evaluation
    period starts; None without a model. A score that includes the model is
    only judged from there on: before it, the model saw the labels."""
    path = model_path(settings)
    if path is None:
        return None
    model = risk_model.load(path)
    start = model["windows"]["evaluation"]["from"]  # a local date or minute
    offset = settings.rules.utc_offset_seconds
    return model["version"], local_epoch(datetime.fromisoformat(start), offset), start


def label_policy_note(settings: Settings) -> str | None:
    """A sentence when the scoring model learnt from labels read otherwise
    than these settings read them (``model.unreported_legitimate_after_days``):
    the report would then judge the model on labels it was not trained on,
    and its figures would move with no change in the data. None when they
    agree or there is no model."""
    path = model_path(settings)
    if path is None:
        return None
    model = risk_model.load(path)
    key = "unreported_legitimate_after_days"
    theirs = model.get("settings", {}).get(key)
    ours = settings.model.unreported_legitimate_after_days
    if theirs == ours:
        return None

    def read(days: float | None) -> str:
        return "reports alone" if days is None else f"model.{key}={days:g}"

    same = (
        "leave the setting out" if theirs is None else f"--set model.{key}={theirs:g}"
    )
    return (
        f"The risk model v{model['version']} learnt from labels read with "
        f"{read(theirs)}; this report reads them with {read(ours)}, so it "
        "counts other payments as legitimate than the training did: give the "
        f"rebuild and the watcher the training's settings ({same})."
    )


def score(
    warehouse: Warehouse,
    session: Session,
    settings: Settings,
    changed_only: bool = False,
) -> dict[str, Any]:
    """Write the model's scores; a summary of what scored the run.

    ``changed_only``: after an incremental Silver refresh, score only the
    rows it recomputed.
    """
    path = model_path(settings)
    if path is None:
        session.execute(f"delete from {TABLE}")
        session.execute(f"delete from {RULES_TABLE}")
        return {"model": None, "rows": 0}
    model = risk_model.load(path)
    stored = _stored_version(session)
    if stored is not None and stored != model["version"]:
        changed_only = False  # a new model: every row again
    if changed_only:
        # After a drop: read and replace the changed rows only (the features
        # query reads a shadowed Silver).
        with warehouse.changed_silver_only(session):
            rows = _score_rows(session, settings, model)
        session.keys_table("scored_ids", "transaction_id", rows["transaction_id"])
        session.execute(
            f"delete from {TABLE} where transaction_id in "
            "(select transaction_id from temp.scored_ids)"
        )
        written = session.insert_new(TABLE, "transaction_id", rows)
    elif warehouse.capabilities.writes_while_reading:
        written = _replace_all(session, settings, model)
    else:
        rows = _score_rows(session, settings, model)
        session.execute(f"delete from {TABLE}")
        written = session.insert_new(TABLE, "transaction_id", rows)
    # Written last: a session that has written reads the features through
    # itself, not a connection of its own (``_replace_all``).
    session.execute(f"delete from {RULES_TABLE}")
    if "rules_calibration" in model:
        session.insert_new(RULES_TABLE, "rules_score", _rule_probabilities(model))
    return {"model": str(path), "version": model["version"], "rows": written}


def scored_by_another_model(session: Session, settings: Settings) -> bool:
    """Whether scoring now would change rows a drop did not touch: the
    stored scores are another model's, or there is a model and no stored
    score, or stored scores and no model."""
    path = model_path(settings)
    stored = _stored_version(session)
    if path is None or stored is None:
        return (path is None) != (stored is None)
    return stored != risk_model.load(path)["version"]


def _stored_version(session: Session) -> int | None:
    """The version of the model whose scores the table holds (None: empty)."""
    return session.fetchall(f"select min(model_version) from {TABLE}")[0][0]


def _rule_probabilities(model: dict[str, Any]) -> pd.DataFrame:
    probabilities = model["rules_calibration"]
    return pd.DataFrame(
        {
            "rules_score": np.arange(len(probabilities), dtype=np.int64),
            "probability": np.asarray(probabilities, dtype=float),
        }
    )


def _replace_all(session: Session, settings: Settings, model: dict[str, Any]) -> int:
    """Every row scored again, each chunk written as soon as it is scored,
    where the engine lets a session write while it reads: the write
    overlaps the reading and scoring of the next chunks instead of waiting
    for them all. The old scores go once the first chunk is in hand, not
    before: an engine may read the features on a connection of its own only
    while this session has written nothing (``query_numeric_chunks``), and
    that read, once begun, never looks at this table."""
    written = 0
    cleared = False
    for chunk in _scored_chunks(session, settings, model):
        if not cleared:
            session.execute(f"delete from {TABLE}")
            cleared = True
        written += session.insert_new(TABLE, "transaction_id", chunk)
    if not cleared:
        session.execute(f"delete from {TABLE}")
    return written


def _score_rows(
    session: Session, settings: Settings, model: dict[str, Any]
) -> pd.DataFrame:
    """Every row's probability and reasons in one frame."""
    scored = list(_scored_chunks(session, settings, model))
    if not scored:
        return pd.DataFrame(columns=list(SCORE_COLUMNS))
    return pd.concat(scored, ignore_index=True)


def _scored_chunks(
    session: Session, settings: Settings, model: dict[str, Any]
) -> Iterator[pd.DataFrame]:
    """Each chunk's probabilities and reasons, ``CHUNK_ROWS`` rows at a time:
    while one chunk is scored on a worker thread (LightGBM lets go of the
    GIL), the next is read and the one before is in the caller's hands, so
    reading, scoring and writing overlap on two cores and no more than
    three chunks are held at once."""
    booster = risk_model.booster(model)
    # The source features the model reads, their text read once before the
    # chunks (a model without any reads nothing more than before).
    extra = source_features.of_model(model)
    stored = source_features.Lookup(session, extra) if extra else None
    chunks = session.query_numeric_chunks(
        risk_model.FEATURES_SQL,
        risk_model.sql_params(settings),
        risk_model.TEXT_COLUMNS,
        CHUNK_ROWS,
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for frame in chunks:
            if stored is not None:
                frame = stored.join(frame)
            running = pool.submit(_score_chunk, model, booster, frame, settings)
            if pending is not None:
                yield pending.result()
            pending = running
        if pending is not None:
            yield pending.result()


def _score_chunk(
    model: dict[str, Any], booster: Any, frame: pd.DataFrame, settings: Settings
) -> pd.DataFrame:
    probability = risk_model.probabilities(model, frame, booster, SCORE_THREADS)
    text = pd.Series(None, index=frame.index, dtype=object)
    worth = probability * 100 >= REASONS_FROM_SHARE * settings.risk.level_medium
    worth |= frame[[f"is_{rule}" for rule in RULES]].sum(axis=1).to_numpy() > 0
    if worth.any():
        text[worth] = reasons(model, frame[worth], settings, booster)
    # In key order: each row then goes in next to the one before in the
    # table's key index, not at a random place of it.
    order = pc.sort_indices(pa.array(frame["transaction_id"].array)).to_numpy()
    return pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"].to_numpy()[order],
            "model_version": model["version"],
            "model_probability": probability[order],
            "model_reasons": text.to_numpy()[order],
        }
    )


def reasons(
    model: dict[str, Any],
    frame: pd.DataFrame,
    settings: Settings,
    booster: Any | None = None,
) -> pd.Series:
    """The features that pushed each row's score up most, in words."""
    pushes = risk_model.contributions(model, frame, booster, SCORE_THREADS).to_numpy()
    # Each row's features, strongest push first (plain numpy and dicts: a
    # pandas call per row cost more than the TreeSHAP itself).
    order = np.argsort(-pushes, axis=1, kind="stable")
    names = risk_model.feature_names(model)
    out = []
    values = frame.to_dict("records")
    for i, row in enumerate(values):
        words: list[str] = []
        topics: set[str] = set()
        for j in order[i]:
            if pushes[i, j] <= 0:
                break
            feature = names[j]
            sentence = describe(feature, row, settings)
            topic = TOPICS.get(feature, feature)
            if sentence and topic not in topics:
                words.append(sentence)
                topics.add(topic)
            if len(words) == TOP_REASONS:
                break
        out.append("; ".join(words) or None)
    return pd.Series(out, index=frame.index, dtype=object)


# Features that one sentence covers: a row gets one sentence per topic.
TOPICS = {
    **dict.fromkeys(
        (
            "amount_cents",
            "amount_to_typical",
            "amount_to_mean_30d",
            "amount_to_max_30d",
        ),
        "amount",
    ),
    **dict.fromkeys(
        ("local_hour", "is_night", "hour_habit", "night_share_before"), "hour"
    ),
    **dict.fromkeys(("tx_count_1h", "amount_sum_1h_cents"), "hour_count"),
    **dict.fromkeys(("tx_count_1d", "amount_sum_1d_cents"), "day_count"),
}


_AMOUNT_BASES = {
    "amount_to_typical": (
        "this customer's typical amount",
        "o valor típico deste cliente",
    ),
    "amount_to_mean_30d": ("their 30-day average", "a média do cliente em 30 dias"),
    "amount_to_max_30d": (
        "their largest payment of the last 30 days",
        "o maior pagamento do cliente nos últimos 30 dias",
    ),
}
# A span's unit: its name, how its number is written, its word in English
# and in Portuguese.
_SPAN_UNITS = (
    ("seconds", "d", "s", "s"),
    ("minutes", "d", "min", "min"),
    ("hours", ".0f", "h", "h"),
    ("days", ".0f", "days", "dias"),
)
# Every sentence a model reason can be, by name, in English (what Gold
# stores and the CSV says) and Portuguese (the dashboard reads the stored
# English back into it).
MODEL_REASONS: dict[str, Said] = {
    # A ``times`` feature: the span from the column's time to the payment,
    # in the unit a person would use; a time after the payment is "before".
    # Before the source column's generic sentences, which would read it.
    **{
        f"source_{unit}_{side}": Said(
            f"{{span:{spec}}} {short_en} {en} {{name}} (source column)",
            f"{{span:{spec}}} {short_pt} {pt} {{name}} (coluna da fonte)",
        )
        for unit, spec, short_en, short_pt in _SPAN_UNITS
        for side, en, pt in (
            ("after", "after", "após"),
            ("before", "before", "antes de"),
        )
    },
    # A source's own column (a mapping's features): first, so that its
    # sentence is never read back as one of the generic ones below.
    "source_numeric": Said(
        "{name} {value:grouped} (source column)",
        "{name} {value:grouped} (coluna da fonte)",
    ),
    "source_categorical": Said(
        "{name} {value} (source column)", "{name} {value} (coluna da fonte)"
    ),
    **{
        feature: Said(
            f"{{amount_cents:reais}}, {{ratio:.1f}}x {en}",
            f"{{amount_cents:reais}}, {{ratio:.1f}}x {pt}",
        )
        for feature, (en, pt) in _AMOUNT_BASES.items()
    },
    "amount": Said("{amount_cents:reais}", "{amount_cents:reais}"),
    "new_category": Said(
        "first payment in this category ({category})",
        "primeiro pagamento nesta categoria ({category})",
    ),
    "new_counterparty": Said(
        "first payment to this merchant or payee",
        "primeiro pagamento a este estabelecimento ou recebedor",
    ),
    "rare_hour": Said(
        "{clock:%H:%M}, an hour this customer rarely pays at",
        "{clock:%H:%M}, horário em que este cliente raramente paga",
    ),
    "hour": Said("{clock:%H:%M}", "{clock:%H:%M}"),
    "hour_count_one": Said(
        "1 payment in the hour before", "1 pagamento na hora anterior"
    ),
    "day_count_one": Said("1 payment in the day before", "1 pagamento no dia anterior"),
    "night_tx_count_1d_one": Said(
        "1 night payment in the day before", "1 pagamento noturno no dia anterior"
    ),
    "hour_count": Said(
        "{count:d} payments in the hour before",
        "{count:d} pagamentos na hora anterior",
    ),
    "day_count": Said(
        "{count:d} payments in the day before",
        "{count:d} pagamentos no dia anterior",
    ),
    # A span as a person says it: seconds, minutes, hours or days.
    "seconds_since_prev": Said(
        "{seconds:d} s after the previous payment",
        "{seconds:d} s após o pagamento anterior",
    ),
    "minutes_since_prev": Said(
        "{minutes:d} min after the previous payment",
        "{minutes:d} min após o pagamento anterior",
    ),
    "hours_since_prev": Said(
        "{hours:.0f} h after the previous payment",
        "{hours:.0f} h após o pagamento anterior",
    ),
    "days_since_prev": Said(
        "{days:.0f} days after the previous payment",
        "{days:.0f} dias após o pagamento anterior",
    ),
    "minutes_since_prev_in_category": Said(
        "{minutes:d} min after their previous payment in this category",
        "{minutes:d} min após o pagamento anterior do cliente nesta categoria",
    ),
    "hours_since_prev_in_category": Said(
        "{hours:.0f} h after their previous payment in this category",
        "{hours:.0f} h após o pagamento anterior do cliente nesta categoria",
    ),
    "days_since_prev_in_category": Said(
        "{days:.0f} days after their previous payment in this category",
        "{days:.0f} dias após o pagamento anterior do cliente nesta categoria",
    ),
    "night_tx_count_1d": Said(
        "{count:d} night payments in the day before",
        "{count:d} pagamentos noturnos no dia anterior",
    ),
    "max_amount_to_category_1d": Said(
        "a payment of {ratio:.1f}x their usual amount in its category in the"
        " day before",
        "um pagamento de {ratio:.1f}x o valor habitual do cliente na categoria"
        " no dia anterior",
    ),
    "km_from_usual_place": Said(
        "{km:.0f} km from where this customer usually pays",
        "{km:.0f} km de onde este cliente costuma pagar",
    ),
    "history_rows": Said(
        "a customer with little history", "um cliente com pouco histórico"
    ),
    "device_age_days": Said(
        "from a device first seen {hours:.0f} h before",
        "de um dispositivo visto pela primeira vez {hours:.0f} h antes",
    ),
    "device_other_customers_one": Said(
        "from a device 1 other customer used before",
        "de um dispositivo já usado por 1 outro cliente",
    ),
    "device_other_customers": Said(
        "from a device {count:d} other customers used before",
        "de um dispositivo já usado por {count:d} outros clientes",
    ),
    "category": Said("category {value}", "categoria {value}"),
    "channel": Said("channel {value}", "canal {value}"),
    "entry_mode": Said("entry mode {value}", "modo de entrada {value}"),
    **{
        f"rule_{rule.name}": Said(
            f"rule {rule.name} fired", f"a regra «{rule.label_pt}» disparou"
        )
        for rule in DETECTION_RULES
    },
}


def _counted(name: str, count: int) -> tuple[str, dict[str, Any]]:
    """A count's sentence, in the singular for one."""
    return (f"{name}_one", {}) if count == 1 else (name, {"count": count})


def _since(
    seconds: float, suffix: str = "", by_second: bool = False
) -> tuple[str, dict[str, Any]]:
    """A span's sentence in the unit a person would use: "43 h", not
    "157166 s"; seconds only where they are said (a burst)."""
    if by_second and seconds < 60:
        return f"seconds_since_prev{suffix}", {"seconds": int(seconds)}
    if seconds < 3_600:
        return f"minutes_since_prev{suffix}", {"minutes": int(seconds // 60)}
    if seconds < SECONDS_PER_DAY:
        return f"hours_since_prev{suffix}", {"hours": seconds / 3_600}
    return f"days_since_prev{suffix}", {"days": seconds / SECONDS_PER_DAY}


def _source_span(name: str, seconds: float) -> tuple[str, dict[str, Any]]:
    """A ``times`` feature as a span: "3 s after signup_time"; "before" for a
    time that follows the payment (a card issued after it, a data error)."""
    side = "after" if seconds >= 0 else "before"
    key, fields = _since(abs(seconds), by_second=True)
    unit = key.split("_", 1)[0]
    return f"source_{unit}_{side}", {"name": name, "span": fields[unit]}


def describe(
    feature: str, row: dict[str, Any], settings: Settings, language: Language = "en"
) -> str | None:
    """One feature of one row as an analyst would say it; None when the value
    says nothing (a missing history)."""
    found = _sentence(feature, row, settings)
    if found is None:
        return None
    name, fields = found
    return MODEL_REASONS[name].fill(language, **fields)


def reasons_in_portuguese(text: str) -> str:
    """Stored model reasons (English, '; '-joined) as the dashboard says them."""
    return in_portuguese(text, MODEL_REASONS.values())


def _sentence(
    feature: str, row: dict[str, Any], settings: Settings
) -> tuple[str, dict[str, Any]] | None:
    """Which of MODEL_REASONS says this feature of this row, with its fields."""
    value = row.get(feature)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if feature.startswith(source_features.PREFIX):
        name = feature[len(source_features.PREFIX) :]
        if isinstance(value, str):
            return "source_categorical", {"name": name, "value": value}
        if name.startswith(SINCE) and len(name) > len(SINCE):
            return _source_span(name[len(SINCE) :], float(value))
        return "source_numeric", {"name": name, "value": float(value)}
    amount = {"amount_cents": row["amount_cents"]}
    offset = settings.rules.utc_offset_seconds
    clock = datetime.fromtimestamp(int(row["created_at_epoch"]) + offset, UTC)
    if feature in _AMOUNT_BASES:
        return feature, {**amount, "ratio": value}
    if feature == "amount_cents":
        ratio = row.get("amount_to_typical")
        if ratio is not None and not np.isnan(ratio) and ratio >= 2:
            return "amount_to_typical", {**amount, "ratio": ratio}
        return "amount", amount
    if feature == "category_rows_before" and value == 0:
        return "new_category", {"category": row.get("category")}
    if feature == "counterparty_rows_before" and value == 0:
        return "new_counterparty", {}
    if feature in ("local_hour", "is_night", "hour_habit", "night_share_before"):
        habit = row.get("hour_habit")
        if habit is not None and not np.isnan(habit) and habit < 0.3:
            return "rare_hour", {"clock": clock}
        return "hour", {"clock": clock}
    if feature in ("tx_count_1h", "amount_sum_1h_cents"):
        return _counted("hour_count", int(row["tx_count_1h"]))
    if feature in ("tx_count_1d", "amount_sum_1d_cents"):
        return _counted("day_count", int(row["tx_count_1d"]))
    if feature == "seconds_since_prev":
        return _since(value, by_second=True)
    if feature == "seconds_since_prev_in_category":
        return _since(value, "_in_category")
    if feature == "night_tx_count_1d" and value > 0:
        return _counted("night_tx_count_1d", int(value))
    if feature == "max_amount_to_category_1d" and value >= 2:
        return "max_amount_to_category_1d", {"ratio": value}
    if feature == "km_from_usual_place":
        return "km_from_usual_place", {"km": value}
    if feature == "history_rows" and value < 5:
        return "history_rows", {}
    if feature == "device_age_days" and value < 1:
        return "device_age_days", {"hours": value * SECONDS_PER_DAY / SECONDS_PER_HOUR}
    if feature == "device_other_customers" and value > 0:
        return _counted("device_other_customers", int(value))
    if feature.startswith("is_") and feature[3:] in RULES and value == 1:
        return f"rule_{feature[3:]}", {}
    if feature in ("category", "channel", "entry_mode"):
        return feature, {"value": value}
    return None
