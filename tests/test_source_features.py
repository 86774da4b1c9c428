"""A source's own columns reach the risk model (a mapping's ``features:``).

A small synthetic source whose fraud label depends only on one declared
numeric column, ``signal``: with the column declared the model finds the
fraud in the held-back period; without it (the same file, the same
labels) it has nothing to go on and scores near the prevalence. Intake
keeps the features beside Bronze, exactly once, and refuses a file or a row
whose declared column it cannot read, naming the key.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssa.engines import incremental, open_warehouse
from ssa.intake.ingest import ingest_file
from ssa.intake.source_mapping import SourceError, load_source
from ssa.models import SILVER
from ssa.risk import model_scoring, risk_model, source_features, training
from ssa.settings import REPO_ROOT, Settings, sql_params

MAPPING = """\
description: a card processor's export with its own risk columns
columns:
  transaction_id: id
constants:
  channel: credit
places: none
ids:
  customer_id:
    from: [customer]
    hash: false
time:
  epoch_column: ts
amount:
  column: amount
label:
  column: is_fraud
features:
  numeric: [signal, balance]
  categorical: [kind]
"""
START = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp())
KIND = "  categorical: [kind]\n"


def _frame(rows: int, seed: int = 0, days: int = 28) -> pd.DataFrame:
    """Rows whose label is ``signal`` in its top 4 %; nothing else says so."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(0.0, 1.0, rows)
    return pd.DataFrame(
        {
            "id": [f"t{seed}-{i:06d}" for i in range(rows)],
            "customer": [f"c{c:03d}" for c in rng.integers(0, 150, rows)],
            "ts": np.sort(START + rng.integers(0, days * 86_400, rows)),
            "amount": [f"{a:.2f}" for a in rng.lognormal(4.0, 1.0, rows)],
            "signal": [f"{s:.4f}" for s in signal],
            "balance": [f"{b:.2f}" for b in rng.uniform(0, 5000, rows)],
            "kind": rng.choice(["a", "b", "c"], rows),
            "is_fraud": (signal > np.quantile(signal, 0.96)).astype(int),
        }
    )


def _settings(tmp_path: Path, mapping: str = MAPPING) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    (sources / "proc.yaml").write_text(mapping, encoding="utf-8")
    return Settings(
        paths={"data_dir": tmp_path / "data", "sources_dir": sources},
        model={"delay_days": 2, "max_rounds": 120, "min_fraud_rows": 10},
    )


def _ingest(settings: Settings, frame: pd.DataFrame, name: str = "drop.csv"):
    path = settings.paths.incoming_path / "proc" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return ingest_file(path, settings, source="proc")


def _stored(settings: Settings) -> pd.DataFrame:
    with open_warehouse(settings).transaction() as session:
        return session.read_table("bronze_source_features")


def _trained(tmp_path: Path, mapping: str) -> tuple[Settings, dict, pd.DataFrame]:
    settings = _settings(tmp_path, mapping)
    assert _ingest(settings, _frame(6_000)).rows_loaded == 6_000
    with open_warehouse(settings).transaction() as session:
        incremental.rebuild(session, SILVER, sql_params(settings))
        rows = risk_model.read_rows(session, settings)
    return settings, training.fit_and_evaluate(rows, settings), rows


@pytest.fixture(scope="module")
def with_features(tmp_path_factory) -> tuple[Settings, dict, pd.DataFrame]:
    return _trained(tmp_path_factory.mktemp("with"), MAPPING)


# --- The mapping ------------------------------------------------------------


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (
            "features:\n  numeric: [signal]\n  categorical: [signal]\n",
            r"features: .*'signal' is named in both lists",
        ),
        ("features:\n  numeric: [amount]\n", r"features.numeric: 'amount' is already"),
        (
            "features:\n  categorical: [is_fraud]\n",
            r"features.categorical: 'is_fraud' is already read by label.column",
        ),
        ("features:\n  numbers: [signal]\n", r"features.numbers: unknown key"),
    ],
)
def test_a_wrong_features_section_names_the_key(tmp_path, features, message):
    head = MAPPING.split("features:")[0]
    (tmp_path / "proc.yaml").write_text(head + features, encoding="utf-8")
    with pytest.raises(SourceError, match=message):
        load_source("proc", tmp_path)


# --- Intake -----------------------------------------------------------------


def test_declared_columns_are_stored_beside_bronze_and_not_ignored(tmp_path):
    settings = _settings(tmp_path)
    frame = _frame(5)
    frame.loc[1, "balance"] = ""
    frame.loc[2, "kind"] = ""
    result = _ingest(settings, frame)
    assert result.rows_loaded == 5
    assert "ignored columns" not in result.detail
    stored = _stored(settings).set_index("transaction_id")
    assert len(stored) == 5
    first = json.loads(stored.loc["t0-000000", "features_json"])
    assert first == {
        "signal": float(frame.loc[0, "signal"]),
        "balance": float(frame.loc[0, "balance"]),
        "kind": frame.loc[0, "kind"],
    }
    assert "balance" not in json.loads(stored.loc["t0-000001", "features_json"])
    assert "kind" not in json.loads(stored.loc["t0-000002", "features_json"])
    assert stored["source"].eq("file:proc/drop.csv").all()


def test_a_time_column_becomes_the_seconds_before_the_payment(tmp_path):
    """A sign-up or an account's opening, read as the payment's time is (here
    an epoch column): the seconds from it to the payment; empty is missing,
    a cell that is no time rejects the row naming the key."""
    mapping = MAPPING.replace(
        "  categorical: [kind]\n", "  categorical: [kind]\n  times: [signup]\n"
    )
    settings = _settings(tmp_path, mapping)
    frame = _frame(4)
    frame["signup"] = [str(frame.loc[0, "ts"] - 3), "", "x", str(frame.loc[3, "ts"])]
    result = _ingest(settings, frame)
    assert (result.rows_loaded, result.rows_rejected) == (3, 1), result.detail
    stored = _stored(settings).set_index("transaction_id")["features_json"]
    said = {i: json.loads(t).get("seconds_since_signup") for i, t in stored.items()}
    assert said == {"t0-000000": 3.0, "t0-000001": None, "t0-000003": 0.0}
    rejected = pd.read_csv(result.rejected_to, dtype=str)
    assert rejected["id"].tolist() == ["t0-000002"]
    assert "(sources/proc.yaml: features.times" in rejected["reason"][0]


def test_a_time_column_reads_in_the_time_sections_format(tmp_path):
    text_time = MAPPING.replace(
        "time:\n  epoch_column: ts\n",
        'time:\n  column: ts\n  format: "%d/%m/%Y %H:%M:%S"\n'
        "  timezone: America/Bahia\n",
    ).replace(KIND, KIND + "  times: [signup]\n")
    settings = _settings(tmp_path, text_time)
    frame = _frame(2)
    frame["ts"] = ["05/10/2026 10:00:00", "05/10/2026 11:00:00"]
    frame["signup"] = ["05/10/2026 09:59:30", "01/10/2026 11:00:00"]
    assert _ingest(settings, frame).rows_loaded == 2
    stored = _stored(settings)["features_json"]
    said = [json.loads(text)["seconds_since_signup"] for text in stored]
    assert sorted(said) == [30.0, 4 * 86_400.0]


def test_a_file_without_a_declared_column_is_quarantined_naming_the_key(tmp_path):
    settings = _settings(tmp_path)
    result = _ingest(settings, _frame(5).drop(columns="balance"))
    assert result.status == "quarantined"
    error = Path(str(result.archived_to)).with_suffix(".error.txt").read_text()
    assert "'balance' (features.numeric)" in error


def test_a_numeric_cell_that_is_not_a_number_rejects_the_row(tmp_path):
    settings = _settings(tmp_path)
    frame = _frame(5)
    frame.loc[3, "signal"] = "abc"
    result = _ingest(settings, frame)
    assert (result.rows_loaded, result.rows_rejected) == (4, 1)
    rejected = pd.read_csv(result.rejected_to, dtype=str, encoding="utf-8-sig")
    assert rejected["id"].tolist() == ["t0-000003"]
    assert rejected["signal"].tolist() == ["abc"]
    assert "features.numeric: signal 'abc' is not a number" in rejected["reason"][0]
    assert "(sources/proc.yaml: features.numeric)" in rejected["reason"][0]
    assert "t0-000003" not in set(_stored(settings)["transaction_id"])


def test_a_category_too_long_for_the_warehouse_rejects_the_row(tmp_path):
    settings = _settings(tmp_path)
    frame = _frame(3)
    frame.loc[0, "kind"] = "x" * 65
    result = _ingest(settings, frame)
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    rejected = pd.read_csv(result.rejected_to, dtype=str, encoding="utf-8-sig")
    assert (
        "features.categorical: kind is longer than 64 characters"
        in (rejected["reason"][0])
    )


def test_numbers_follow_the_amounts_separators(tmp_path):
    mapping = MAPPING.replace(
        "  column: amount\n", '  column: amount\n  decimal: ","\n  thousands: "."\n'
    )
    settings = _settings(tmp_path, mapping)
    frame = _frame(3)
    frame["amount"] = ["12,50", "1.000,00", "3,00"]
    frame["balance"] = ["181.000,00", "-0,5", "2e3"]
    frame["signal"] = frame["signal"].str.replace(".", ",")
    result = _ingest(settings, frame)
    assert result.rows_loaded == 3
    stored = _stored(settings).sort_values("transaction_id")
    balances = [json.loads(t)["balance"] for t in stored["features_json"]]
    assert balances == [181_000.0, -0.5, 2_000.0]


@pytest.mark.parametrize("engine", ["sqlite", "duckdb"])
def test_duplicate_ids_do_not_duplicate_or_replace_features(tmp_path, engine):
    settings = _settings(tmp_path).model_copy(update={"engine": engine})
    frame = _frame(4)
    _ingest(settings, frame, "first.csv")
    again = frame.copy()
    again["balance"] = "1.00"  # the same ids, other features: not taken
    again.loc[4] = {**frame.loc[0].to_dict(), "id": "new-1", "balance": "2.00"}
    result = _ingest(settings, again, "second.csv")
    assert result.rows_loaded == 1
    stored = _stored(settings).set_index("transaction_id")
    assert len(stored) == 5
    first = json.loads(stored.loc["t0-000000", "features_json"])
    assert first["balance"] == float(frame.loc[0, "balance"])
    assert json.loads(stored.loc["new-1", "features_json"])["balance"] == 2.0
    with open_warehouse(settings).transaction() as session:
        read = source_features.read(session).set_index("transaction_id")
    assert read.loc["new-1", "src:balance"] == 2.0
    assert read.loc["t0-000000", "src:kind"] == frame.loc[0, "kind"]


def test_detection_never_reads_the_source_features():
    """Only the model reads them: no Silver or Gold file names the table."""
    from ssa.engines import base

    readers = [
        path.name
        for layer in ("silver", "gold")
        for path in (base.SQL_DIR / layer).glob("*.sql")
        if source_features.TABLE
        in base.strip_comments(base.sql_text(f"{layer}/{path.name}"))
    ]
    assert readers == []
    assert source_features.TABLE in base.sql_text(source_features.SQL)


# --- The model --------------------------------------------------------------


def test_the_model_learns_from_a_declared_column(with_features, tmp_path):
    _, model, _ = with_features
    figures = model["metrics"]["model"]
    assert figures["fraud_rows"] >= 20
    assert figures["average_precision"] > 0.8
    assert figures["average_precision"] > 10 * figures["prevalence"]
    declared = {(e["name"], e["kind"]) for e in model["source_features"]}
    assert declared == {
        ("signal", "numeric"),
        ("balance", "numeric"),
        ("kind", "categorical"),
    }
    assert model["vocabulary"]["src:kind"] == ["a", "b", "c"]
    summary = training.summary_markdown(model, tmp_path / "m.json")
    assert "- Source features (a mapping's `features`): kind (categorical), " in summary
    assert "balance (numeric), signal (numeric)" in summary
    # The same file and labels, the section left out: nothing to learn from.
    _, without, _ = _trained(tmp_path, MAPPING.split("features:")[0])
    assert without["source_features"] == []
    plain = without["metrics"]["model"]
    assert plain["average_precision"] < 3 * plain["prevalence"]


def test_the_model_file_alone_reproduces_scores_with_source_features(
    with_features, tmp_path
):
    _, trained, rows = with_features
    model = copy.deepcopy(trained)
    labelled = rows[rows["is_fraud"].notna()]
    in_memory = risk_model.probabilities(model, labelled)
    again = risk_model.load(risk_model.save(model, tmp_path))
    np.testing.assert_array_equal(risk_model.probabilities(again, labelled), in_memory)
    assert again["source_features"] == trained["source_features"]
    # Without the source columns the rows score otherwise: the file reads them.
    bare = labelled.assign(**{"src:signal": np.nan})
    assert not np.array_equal(risk_model.probabilities(again, bare), in_memory)


def test_scoring_joins_the_source_features_and_says_them(with_features, tmp_path):
    settings, trained, rows = with_features
    model = copy.deepcopy(trained)
    path = risk_model.save(model, tmp_path / "models")
    scoring = settings.model_copy(
        update={"model": settings.model.model_copy(update={"model_file": path})}
    )
    warehouse = open_warehouse(scoring)
    with warehouse.transaction() as session:
        model_scoring.score(warehouse, session, scoring)
        scores = session.read_table(model_scoring.TABLE)
    labelled = rows[rows["is_fraud"].notna()]
    expected = pd.Series(
        risk_model.probabilities(risk_model.load(path), labelled),
        index=labelled["transaction_id"].astype(str).to_numpy(),
    )
    got = scores.set_index("transaction_id")["model_probability"]
    np.testing.assert_allclose(got.loc[expected.index].to_numpy(), expected)
    fraud_ids = labelled.loc[labelled["is_fraud"] == 1, "transaction_id"].astype(str)
    said = scores.set_index("transaction_id").loc[fraud_ids, "model_reasons"]
    sentence = r"signal -?[\d.,]+ \(source column\)"
    assert said.fillna("").str.contains(sentence).mean() > 0.5
    portuguese = model_scoring.reasons_in_portuguese(said.dropna().iloc[0])
    assert "(coluna da fonte)" in portuguese


def test_rows_without_source_features_score_with_them_missing(with_features):
    _, model, rows = with_features
    extra = source_features.of_model(model)
    stored = pd.DataFrame({"transaction_id": pd.Series([], dtype=object)})
    for feature in extra:
        stored[feature.column] = pd.Series([], dtype=float)
    joined = source_features.join(
        rows.drop(columns=[f.column for f in extra]).head(50), stored, extra
    )
    assert joined[[f.column for f in extra]].isna().all().all()
    assert np.isfinite(risk_model.probabilities(model, joined)).all()


@pytest.mark.parametrize(
    ("value", "en", "pt"),
    [
        (181_000.0, "181,000.00", "181.000,00"),
        (-0.51234, "-0.5123", "-0,5123"),
        (0.0, "0.00", "0,00"),
        (1.5e20, "1.500e+20", "1,500e+20"),
    ],
)
def test_a_source_number_reads_back_in_portuguese(value, en, pt):
    """Gold stores the English; the dashboard says it with Portuguese
    separators, read back from the stored text."""
    said = model_scoring.MODEL_REASONS["source_numeric"]
    stored = said.fill("en", name="oldbalanceOrg", value=value)
    assert stored == f"oldbalanceOrg {en} (source column)"
    assert said.fill("pt", name="oldbalanceOrg", value=value) == (
        f"oldbalanceOrg {pt} (coluna da fonte)"
    )
    assert model_scoring.reasons_in_portuguese(stored) == (
        f"oldbalanceOrg {pt} (coluna da fonte)"
    )


@pytest.mark.parametrize(
    ("seconds", "en", "pt"),
    [
        (3.0, "3 s after signup_time", "3 s após signup_time"),
        (150.0, "2 min after signup_time", "2 min após signup_time"),
        (-7_200.0, "2 h before signup_time", "2 h antes de signup_time"),
        (4 * 86_400.0, "4 days after signup_time", "4 dias após signup_time"),
    ],
)
def test_a_time_feature_is_said_as_a_span(seconds, en, pt):
    """A ``times`` feature's reason says how long after that time the payment
    came, in the unit a person would use, and reads back in Portuguese."""
    feature = f"{source_features.PREFIX}seconds_since_signup_time"
    row = {feature: seconds, "amount_cents": 100, "created_at_epoch": START}
    stored = model_scoring.describe(feature, row, Settings())
    assert stored == f"{en} (source column)"
    assert model_scoring.reasons_in_portuguese(stored) == f"{pt} (coluna da fonte)"


# --- End to end (last: it adds to the module's warehouse) -------------------


def test_a_drop_after_training_is_scored_with_its_features(
    with_features, prefect_harness, tmp_path
):
    """The flows as a user runs them: the trained model in the models
    folder, a first refresh, then a new drop of the source; the refresh
    after the drop scores its rows with their features, as the model file
    alone scores them, and the reasons name the declared column."""
    import asyncio

    from flows.ingest import incoming_refresh, ingest_drops

    settings, trained, _ = with_features
    risk_model.save(copy.deepcopy(trained), settings.paths.models_path)
    asyncio.run(incoming_refresh(settings))
    later = _frame(300, seed=5)
    later["ts"] = later["ts"] + 28 * 86_400  # the weeks after the training
    path = tmp_path / "later.csv"
    later.to_csv(path, index=False)
    done = asyncio.run(ingest_drops([str(path)], settings, source="proc"))
    assert done["rows_loaded"] == 300
    with open_warehouse(settings).transaction() as session:
        scores = session.read_table(model_scoring.TABLE).set_index("transaction_id")
        rows = risk_model.read_rows(session, settings)
    new = rows[rows["transaction_id"].astype(str).isin(set(later["id"]))]
    assert len(new) == 300 and new["src:signal"].notna().all()
    model = risk_model.load(risk_model.latest(settings.paths.models_path))
    expected = risk_model.probabilities(model, new)
    got = scores.loc[new["transaction_id"].astype(str), "model_probability"]
    np.testing.assert_allclose(got.to_numpy(), expected)
    fraud = later.set_index("id")["is_fraud"] == 1
    assert (
        got[fraud.loc[got.index].to_numpy()].min()
        > got[~fraud.loc[got.index].to_numpy()].median()
    )
    said = scores.loc[later.loc[later["is_fraud"] == 1, "id"], "model_reasons"]
    assert said.fillna("").str.contains("(source column)", regex=False).all()


def test_a_column_hashed_into_an_id_may_also_be_a_feature(settings) -> None:
    """The shipped IEEE-CIS mapping hashes the e-mail domain into its
    customer id and gives it to the model too: the digest keeps none of its
    value. A column mapped in clear or the label may not be one."""
    source = load_source("ieee_cis", REPO_ROOT / "sources")
    assert source.mapping.feature_problems() == []
    assert "P_emaildomain" in source.mapping.feature_columns()
    example = REPO_ROOT / "sources" / "examples" / "ieee_cis_example.csv"
    folder = settings.paths.incoming_path / "ieee_cis"
    folder.mkdir(parents=True)
    path = folder / example.name
    path.write_bytes(example.read_bytes())
    assert ingest_file(path, settings, source="ieee_cis").rows_loaded > 0
    with open_warehouse(settings).transaction() as session:
        stored = session.fetchall("select features_json from bronze_source_features")
    assert any("P_emaildomain" in json.loads(text) for (text,) in stored)
