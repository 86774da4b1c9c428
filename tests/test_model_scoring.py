"""Gold with a trained model: the model's points beside the rules', in words."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest

from ssa.engines import incremental
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.models import GOLD, SILVER
from ssa.ranking import QUEUE_ORDER, risk_rank
from ssa.risk import model_scoring, risk_model, training
from ssa.settings import Settings, sql_params


@pytest.fixture(scope="module")
def scored(labelled_month):
    settings, rows = labelled_month
    model = training.fit_and_evaluate(rows, settings)
    risk_model.save(model, settings.paths.models_path)
    with (wh := SQLiteWarehouse(settings.warehouse_path)).transaction() as conn:
        summary = model_scoring.score(wh, conn, settings)
        incremental.rebuild(conn, GOLD, sql_params(settings))
        risk = pd.read_sql_query("select * from gold_transaction_risk", conn.conn)
        anomalies = pd.read_sql_query("select * from gold_anomalies", conn.conn)
    return settings, summary, risk, anomalies


def test_every_row_is_scored_by_the_newest_model(scored) -> None:
    _, summary, risk, _ = scored
    assert summary["version"] == 1
    assert summary["rows"] == len(risk) > 0
    assert risk["model_version"].eq(1).all()
    assert risk["model_probability"].between(0, 1).all()


def test_the_score_is_the_higher_of_the_rules_and_the_model(scored) -> None:
    settings, _, risk, _ = scored
    points = (100 * risk["model_probability"]).astype(int)
    expected = pd.concat([risk["rules_score"], points], axis=1).max(axis=1)
    assert (risk["risk_score"] == expected).all()
    flagged = risk["anomaly_flag"] != "Normal"
    assert (risk.loc[flagged, "risk_score"] >= risk.loc[flagged, "rules_score"]).all()
    assert (risk.loc[flagged, "risk_level"] != "none").all()
    alone = ~flagged & (risk["risk_level"] != "none")
    assert (points[alone] >= settings.risk.level_medium).all()


def test_the_alert_queue_orders_tied_points_by_the_probability_behind_them(
    scored,
) -> None:
    settings, _, _, _ = scored
    with SQLiteWarehouse(settings.warehouse_path).transaction() as session:
        queue = session.query("gold/export_anomalies.sql", {})
    # Whole points tie rows whose probabilities differ: the case at stake.
    spread = queue.groupby("risk_score")["risk_probability"].nunique()
    assert (spread > 1).any()
    expected = queue.sort_values(
        [*QUEUE_ORDER, "transaction_id"],
        ascending=[False] * len(QUEUE_ORDER) + [True],
        na_position="last",
        kind="stable",
    )
    assert queue["transaction_id"].tolist() == expected["transaction_id"].tolist()
    ranks = risk_rank(queue)
    assert (np.diff(ranks) <= 0).all()
    assert (ranks > 0).all()


def test_alerts_carry_the_models_reasons_in_words(scored) -> None:
    _, _, risk, anomalies = scored
    assert set(anomalies["transaction_id"]) == set(
        risk.loc[risk["risk_level"] != "none", "transaction_id"]
    )
    high = anomalies[anomalies["model_probability"] >= 0.5]
    assert len(high) > 0
    assert high["model_reasons"].notna().all()
    words = " ".join(high["model_reasons"])
    assert "R$" in words or "first" in words or "rule" in words
    # One sentence per topic: the amount is said once, not once per feature.
    assert high["model_reasons"].str.count("R\\$").le(1).all()
    assert high["model_reasons"].str.count("; ").le(2).all()


def test_without_a_model_gold_scores_the_rules_and_the_anomaly_score(
    labelled_month, tmp_path
) -> None:
    settings, _ = labelled_month
    elsewhere = settings.model_copy(
        update={"paths": settings.paths.model_copy(update={"models_dir": tmp_path})}
    )
    with (wh := SQLiteWarehouse(settings.warehouse_path)).transaction() as conn:
        summary = model_scoring.score(wh, conn, elsewhere)
        incremental.rebuild(conn, GOLD, sql_params(settings))
        risk = pd.read_sql_query("select * from gold_transaction_risk", conn.conn)
    assert summary == {"model": None, "rows": 0}
    assert risk["model_probability"].isna().all()
    expected = risk[["rules_score", "anomaly_points"]].max(axis=1)
    assert (risk["risk_score"] == expected).all()
    assert (risk["learned_points"] == risk["anomaly_points"]).all()
    cfg = settings.risk
    assert risk["anomaly_points"].between(0, cfg.anomaly_max_points).all()
    # Nothing fired and nothing stands out: 0 and no alert.
    quiet = (risk["rules_score"] == 0) & (risk["anomaly_points"] == 0)
    assert quiet.any()
    assert (risk.loc[quiet, "risk_score"] == 0).all()
    assert (risk.loc[quiet, "risk_level"] == "none").all()
    # Unusual rows no rule caught: scored, an alert only from level_medium.
    unusual = (risk["anomaly_flag"] == "Normal") & (risk["anomaly_points"] > 0)
    assert unusual.any()
    alerts = unusual & (risk["risk_level"] != "none")
    assert (risk.loc[alerts, "anomaly_points"] >= cfg.level_medium).all()
    assert (risk.loc[unusual & ~alerts, "anomaly_points"] < cfg.level_medium).all()


def test_the_report_ranks_a_model_score_only_on_what_it_never_learnt(
    scored,
) -> None:
    from tasks.report import _evaluate

    settings, _, risk, _ = scored
    version, start, day = model_scoring.held_back(settings)
    report = _evaluate(settings)
    assert f"risk model v{version}" in report["markdown"]
    assert f"rows from {day} on" in report["markdown"]
    gold = report["ranking"]
    held_back = (risk["created_at_epoch"] >= start).sum()
    assert 0 < gold["labelled_rows"].max() <= held_back < len(risk)


def test_the_report_says_when_it_reads_labels_otherwise_than_training(
    scored,
) -> None:
    """A model trained on fraud reports alone, judged by a report that takes
    silence as legitimate (or the other way): said, with the setting."""
    settings, *_ = scored
    assert model_scoring.label_policy_note(settings) is None
    other = settings.model_copy(
        update={
            "model": settings.model.model_copy(
                update={"unreported_legitimate_after_days": 7}
            )
        }
    )
    note = model_scoring.label_policy_note(other)
    assert note is not None
    assert "learnt from labels read with reports alone" in note
    assert "model.unreported_legitimate_after_days=7" in note
    assert "(leave the setting out)" in note


def test_after_a_drop_only_the_changed_rows_are_scored_again(scored, tmp_path) -> None:
    """Scores after an incremental refresh equal a full scoring of the same
    rows, and only the drop's customers' changed rows were read."""
    from ssa.generator import generate
    from tasks.bronze import _load

    settings, _, full_risk, _ = scored
    here = settings.model_copy(
        update={
            "paths": settings.paths.model_copy(
                update={
                    "data_dir": tmp_path,
                    "models_dir": settings.paths.models_path,
                }
            )
        }
    )
    data = generate(settings)
    tx = data.transactions
    one = tx["customer_id"] == tx["customer_id"].iloc[0]
    late = one & (tx["created_at_epoch"] >= tx.loc[one, "created_at_epoch"].median())
    _load(dataclasses.replace(data, transactions=tx[~late]), here)
    params = sql_params(here)
    with (wh := SQLiteWarehouse(here.warehouse_path)).transaction() as conn:
        incremental.rebuild(conn, SILVER, params)
        model_scoring.score(wh, conn, here)
        incremental.rebuild(conn, GOLD, params)
        conn.insert_new(
            "bronze_transactions",
            "transaction_id",
            tx[late].assign(
                source="generator:seed=4", batch_id="late", ingested_at="now"
            ),
        )
        incremental.refresh_touched(conn, params, tx.loc[late, "transaction_id"])
        again = model_scoring.score(wh, conn, here, changed_only=True)
        incremental.refresh_gold(conn, params)
        risk = pd.read_sql_query("select * from gold_transaction_risk", conn.conn)
    assert 0 < again["rows"] < len(tx) / 20
    ours = risk.sort_values("transaction_id", ignore_index=True)
    theirs = full_risk.sort_values("transaction_id", ignore_index=True)
    pd.testing.assert_frame_equal(ours, theirs)


def test_scoring_in_small_chunks_gives_every_row_the_same_score(
    scored, monkeypatch
) -> None:
    """Chunks read while the one before is scored: the same probability for
    every row as the model file gives the whole frame at once."""
    settings, _, risk, _ = scored
    monkeypatch.setattr(model_scoring, "CHUNK_ROWS", 997)
    model = risk_model.load(model_scoring.model_path(settings))
    with SQLiteWarehouse(settings.warehouse_path).transaction() as session:
        rows = model_scoring._score_rows(session, settings, model)
        frame = risk_model.read_features(session, settings)
    assert len(rows) == len(frame) == len(risk) > 997
    assert rows["transaction_id"].is_unique
    whole = pd.Series(risk_model.probabilities(model, frame), frame["transaction_id"])
    by_id = rows.set_index("transaction_id")["model_probability"]
    pd.testing.assert_series_equal(
        by_id.sort_index(), whole.sort_index(), check_names=False
    )


@pytest.mark.parametrize("reader", ["own connection", "session's cursor"])
def test_scoring_again_replaces_every_score_chunk_by_chunk(
    scored, monkeypatch, reader
) -> None:
    """A full scoring written a chunk at a time, as each is scored: the old
    rows gone (one of another model among them), every Silver row once, with
    the probability the model file gives the whole frame at once, and the
    same reasons as a scoring in one chunk. Whether the features are read on
    a connection of their own or, after the session wrote, on its cursor
    between the writes."""
    settings, summary, _, _ = scored
    model = risk_model.load(model_scoring.model_path(settings))
    wh = SQLiteWarehouse(settings.warehouse_path)
    with wh.transaction() as session:
        model_scoring.score(wh, session, settings)
        before = session.read_table(model_scoring.TABLE)
    with wh.transaction() as session:
        session.execute(
            f"update {model_scoring.TABLE} set model_probability = -1, "
            "model_reasons = 'stale'"
        )
        session.execute(
            f"insert into {model_scoring.TABLE} values ('gone', 1, 0.5, 'stale')"
        )
    monkeypatch.setattr(model_scoring, "CHUNK_ROWS", 997)
    with wh.transaction() as session:
        if reader == "session's cursor":
            session.keys_table("unrelated", "transaction_id", ["x"])
        assert session.sees_committed() == (reader == "own connection")
        again = model_scoring.score(wh, session, settings)
    with wh.transaction() as session:
        after = session.read_table(model_scoring.TABLE)
        frame = risk_model.read_features(session, settings)
    assert again["rows"] == summary["rows"] == len(after) == len(frame) > 2 * 997
    assert after["transaction_id"].is_unique
    assert set(after["transaction_id"]) == set(frame["transaction_id"])
    whole = pd.Series(risk_model.probabilities(model, frame), frame["transaction_id"])
    by_id = after.set_index("transaction_id").sort_index()
    pd.testing.assert_series_equal(
        by_id["model_probability"], whole.sort_index(), check_names=False
    )
    pd.testing.assert_frame_equal(
        by_id, before.set_index("transaction_id").sort_index()
    )


class _OneStatementAtATime:
    """A session, as an engine that streams a query's rows from the
    connection it writes on (no write while a read is open): a write
    between two chunks is an error."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.reading = False

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def query_numeric_chunks(self, *args):
        self.reading = True
        try:
            yield from self.inner.query_numeric_chunks(*args)
        finally:
            self.reading = False

    def execute(self, *args) -> int:
        assert not self.reading, "a write while the features were being read"
        return self.inner.execute(*args)

    def insert_new(self, *args) -> int:
        assert not self.reading, "a write while the features were being read"
        return self.inner.insert_new(*args)


@pytest.mark.parametrize("writes_while_reading", [False, True])
def test_an_engine_that_cannot_write_while_it_reads_gets_every_chunk_first(
    scored, monkeypatch, writes_while_reading
) -> None:
    """Where the engine says a session may not write while it reads, every
    chunk is read before the old scores go; the same rows go in. Where it
    says it may, the writes start after the first chunk (which such an
    engine would refuse)."""
    settings, summary, _, _ = scored
    monkeypatch.setattr(model_scoring, "CHUNK_ROWS", 997)
    wh = SQLiteWarehouse(settings.warehouse_path)
    monkeypatch.setattr(
        wh,
        "capabilities",
        dataclasses.replace(wh.capabilities, writes_while_reading=writes_while_reading),
    )
    with wh.transaction() as session:
        strict = _OneStatementAtATime(session)
        if writes_while_reading:
            with pytest.raises(AssertionError, match="while the features"):
                model_scoring.score(wh, strict, settings)
            return
        again = model_scoring.score(wh, strict, settings)
        rows = session.fetchall(f"select count(*) from {model_scoring.TABLE}")
    assert again["rows"] == summary["rows"] == rows[0][0]


def _gold_tables(session) -> dict[str, pd.DataFrame]:
    """Every Gold table and the scores, in one order whatever the build's."""
    tables = {}
    for table in (*(m.table for m in GOLD), model_scoring.TABLE):
        frame = pd.read_sql_query(f"select * from {table}", session.conn)
        tables[table] = frame.sort_values(list(frame.columns[:2]), ignore_index=True)
    return tables


def test_scoring_beside_gold_builds_what_scoring_first_builds(scored) -> None:
    """The full build that scores while the Gold models before the scores
    are built aside ends with the tables that scoring, then Gold, gives."""
    settings, _, _, _ = scored
    wh = SQLiteWarehouse(settings.warehouse_path)
    params = sql_params(settings)
    with wh.transaction() as session:
        model_scoring.score(wh, session, settings)
        incremental.rebuild(session, GOLD, params)
        first = _gold_tables(session)
        # Emptied, so that only the build below can fill them again.
        for model in GOLD:
            session.execute(f"delete from {model.table}")
        session.execute(f"delete from {model_scoring.TABLE}")
    summary = {}
    rows = wh.build_gold(
        params,
        score=lambda session: summary.update(
            model_scoring.score(wh, session, settings)
        ),
    )
    assert incremental.gold_before_scores() == GOLD[:1]
    assert summary["rows"] == len(first["gold_transaction_risk"]) == rows[GOLD[0].name]
    with wh.transaction() as session:
        again = _gold_tables(session)
    assert again.keys() == first.keys()
    for table, frame in first.items():
        pd.testing.assert_frame_equal(again[table], frame, obj=table)


def test_a_scoring_error_leaves_gold_as_it_was(scored) -> None:
    """Scoring fails: the error reaches the caller, the models built beside
    it are not swapped in, and the scores are rolled back."""
    settings, _, _, _ = scored
    wh = SQLiteWarehouse(settings.warehouse_path)
    with wh.transaction() as session:
        session.execute(f"delete from {GOLD[0].table}")
        before = _gold_tables(session)

    def failing(session) -> None:
        model_scoring.score(wh, session, settings)
        raise RuntimeError("scoring broke")

    with pytest.raises(RuntimeError, match="scoring broke"):
        wh.build_gold(sql_params(settings), score=failing)
    with wh.transaction() as session:
        after = _gold_tables(session)
    assert after[GOLD[0].table].empty
    for table, frame in before.items():
        pd.testing.assert_frame_equal(after[table], frame, obj=table)


def _calibrated(settings, calibration: list[float], folder):
    """Settings whose models folder holds the scoring model with this
    ``rules_calibration``."""
    model = risk_model.load(model_scoring.model_path(settings))
    risk_model.save({**model, "rules_calibration": calibration}, folder)
    return settings.model_copy(
        update={"paths": settings.paths.model_copy(update={"models_dir": folder})}
    )


def test_with_a_rules_calibration_both_voices_are_probabilities(
    scored, tmp_path
) -> None:
    """A model trained where Gold exists puts each rules score on the
    model's scale: Gold's score is the higher of the two probabilities x 100
    (as the training's held-back figures compute it), every flagged row stays
    an alert, and rules that meant little there rank below the model's
    confident rows."""
    settings, _, _, _ = scored
    # Rules that were fraud one time in a hundred, whatever their score.
    weak = [0.0, *([0.01] * risk_model.SCORE_MAX)]
    here = _calibrated(settings, weak, tmp_path)
    wh = SQLiteWarehouse(settings.warehouse_path)
    with wh.transaction() as session:
        model_scoring.score(wh, session, here)
        incremental.rebuild(session, GOLD, sql_params(here))
        risk = pd.read_sql_query("select * from gold_transaction_risk", session.conn)
    expected = training.combined_risk(
        {"rules_calibration": weak}, risk["model_probability"].to_numpy(), risk
    )
    assert (risk["risk_score"] == expected["risk_score"]).all()
    assert np.allclose(risk["risk_probability"], expected["risk_probability"])
    flagged = risk["anomaly_flag"] != "Normal"
    assert flagged.any()
    assert (risk.loc[flagged, "risk_level"] != "none").all()
    assert (risk.loc[flagged & (risk["model_points"] < 1), "risk_score"] == 1).all()
    confident = risk["model_probability"] >= 0.5
    assert confident.any()
    assert (
        risk.loc[confident, "risk_score"].min()
        > risk.loc[flagged & ~confident, "risk_score"].max()
    )
    # Without the calibration (a model trained before Gold existed) the
    # rules keep their weights.
    with wh.transaction() as session:
        model_scoring.score(wh, session, settings)
        incremental.rebuild(session, GOLD, sql_params(settings))
        plain = pd.read_sql_query("select * from gold_transaction_risk", session.conn)
    assert (plain["rules_points"] == plain["rules_score"]).all()


def test_training_with_gold_calibrates_the_rules_on_the_training_period(
    scored, labelled_month
) -> None:
    settings, rows = labelled_month
    with SQLiteWarehouse(settings.warehouse_path).transaction() as session:
        gold = session.query(training.GOLD_SCORES_SQL, {})
    model = training.fit_and_evaluate(rows, settings, gold)
    calibration = model["rules_calibration"]
    assert len(calibration) == risk_model.SCORE_MAX + 1
    assert all(a <= b for a, b in itertools.pairwise(calibration))
    # The planted fraud is what the rules were written for: a high rules
    # score is fraud far more often than no rule at all.
    assert calibration[-1] > 0.5 > 0.05 > calibration[0]
    assert "gold_with_model" in model["metrics"]


def test_scoring_reads_before_it_writes(scored, monkeypatch, tmp_path) -> None:
    """Nothing is written before the features are read, not even the rules'
    probabilities: a session that has written reads them through its own
    cursor, a Python object per cell, where a fresh one reads them
    column-wise on a connection of its own."""
    calibration = [0.0, *([0.5] * risk_model.SCORE_MAX)]
    settings = _calibrated(scored[0], calibration, tmp_path)
    wh = SQLiteWarehouse(settings.warehouse_path)
    fresh_when_read = []
    with wh.transaction() as session:
        read = session.query_numeric_chunks

        def spy(*args, **kwargs):
            fresh_when_read.append(session.sees_committed())
            return read(*args, **kwargs)

        monkeypatch.setattr(session, "query_numeric_chunks", spy)
        model_scoring.score(wh, session, settings)
        written = session.read_table(model_scoring.RULES_TABLE)
    assert fresh_when_read == [True]
    assert written["probability"].tolist() == calibration


def test_a_new_model_or_none_makes_the_next_gold_refresh_a_full_build(
    scored, tmp_path
) -> None:
    """A drop's refresh rescored every row with a new model: Gold's rows it
    did not touch must not keep the old model's scores."""
    settings, _, _, _ = scored

    def models_in(folder):
        paths = settings.paths.model_copy(update={"models_dir": folder})
        return settings.model_copy(update={"paths": paths})

    model = risk_model.load(model_scoring.model_path(settings))
    risk_model.save(model, tmp_path / "same")  # version 1 again
    for _ in range(2):
        risk_model.save(model, tmp_path / "newer")  # up to version 2
    with SQLiteWarehouse(settings.warehouse_path).transaction() as session:
        assert not model_scoring.scored_by_another_model(session, settings)
        assert not model_scoring.scored_by_another_model(
            session, models_in(tmp_path / "same")
        )
        assert model_scoring.scored_by_another_model(
            session, models_in(tmp_path / "newer")
        )
        assert model_scoring.scored_by_another_model(
            session, models_in(tmp_path / "none")
        )


def test_a_model_reason_reads_back_into_portuguese() -> None:
    """Each sentence a model reason can be: its stored English read back
    gives what the Portuguese template says of the same fields."""
    row = {feature: 1.0 for feature in risk_model.FEATURES}
    row.update(
        amount_cents=275031,
        created_at_epoch=1_790_000_000,
        amount_to_typical=33.24,
        hour_habit=0.1,
        tx_count_1h=4,
        tx_count_1d=9,
        category="grocery_pos",
        category_rows_before=0,
        counterparty_rows_before=0,
        seconds_since_prev=42.0,
        night_tx_count_1d=2,
        max_amount_to_category_1d=3.5,
        km_from_usual_place=12.3,
        history_rows=2,
        device_age_days=0.2,
        device_other_customers=3,
        channel="pix",
        entry_mode="chip",
    )
    settings = Settings()
    seen = set()
    for span in (42.0, 120.0, 7_200.0, 400_000.0):
        row["seconds_since_prev_in_category"] = span
        row["seconds_since_prev"] = span
        for feature in risk_model.FEATURES:
            en = model_scoring.describe(feature, row, settings)
            if en is None:
                continue
            pt = model_scoring.describe(feature, row, settings, "pt")
            assert model_scoring.reasons_in_portuguese(en) == pt, en
            seen.add(pt)
    row.update(tx_count_1h=1, tx_count_1d=1, night_tx_count_1d=1)
    for feature in ("tx_count_1h", "tx_count_1d", "night_tx_count_1d"):
        en = model_scoring.describe(feature, row, settings)
        assert en is not None and en.startswith("1 ") and "payments" not in en
        pt = model_scoring.describe(feature, row, settings, "pt")
        assert model_scoring.reasons_in_portuguese(en) == pt, en
        seen.add(pt)
    row.update(device_other_customers=1)
    en = model_scoring.describe("device_other_customers", row, settings)
    assert en == "from a device 1 other customer used before"
    pt = model_scoring.describe("device_other_customers", row, settings, "pt")
    assert model_scoring.reasons_in_portuguese(en) == pt
    assert pt == "de um dispositivo já usado por 1 outro cliente"
    assert "1 pagamento na hora anterior" in seen
    assert "de um dispositivo já usado por 3 outros clientes" in seen
    assert "R$ 2.750,31, 33,2x o valor típico deste cliente" in seen
    assert "5 dias após o pagamento anterior do cliente nesta categoria" in seen
    # A span in the unit a person would say it in, seconds for a burst only.
    assert {"42 s após o pagamento anterior", "2 h após o pagamento anterior"} <= seen
    assert "5 dias após o pagamento anterior" in seen
    # Text no sentence says (an older version's) stays as it was.
    assert model_scoring.reasons_in_portuguese("x; 4 payments in the hour before") == (
        "x; 4 pagamentos na hora anterior"
    )


def test_every_model_sentence_says_the_same_fields_in_both_languages() -> None:
    import string

    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    for name, said in model_scoring.MODEL_REASONS.items():
        assert fields(said.en) == fields(said.pt), name
