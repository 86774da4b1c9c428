"""An incremental Silver refresh must equal a full rebuild on the same data.

The hard case: the new rows are a random tenth of a month, interleaved in
time with what is already there (a late export), touching customers, cards,
devices, payees and mule accounts across every rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssa.engines import incremental, sqlite_aside
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.generator import generate
from ssa.models import FINAL_MODEL, GOLD, GOLD_MODELS, SILVER, SILVER_MODELS
from ssa.settings import Settings, sql_params
from tests.rows import at, pix, tx, warehouse_with, without_device_first_use

SETTINGS = Settings(
    generator={"n_customers": 500, "n_merchants": 100, "days": 14, "seed": 5},
    fraud={"mule_rate": 0.02, "first_time_payee_rate": 0.03},
    # A look-back inside the fortnight: derived first uses both known and
    # not known yet, and late rows that move them.
    rules={"device_history_min_seconds": 4 * 86_400},
)


# The key of each Gold table's rows (Silver rows are keyed by transaction).
GOLD_KEYS = {
    "gold_risk_parts": ["transaction_id"],
    "gold_transaction_risk": ["transaction_id"],
    "gold_anomalies": ["transaction_id"],
    "gold_customer_risk": ["customer_id"],
    "gold_bairro_daily": ["local_day", "bairro"],
}


def _tables(conn) -> dict[str, pd.DataFrame]:
    out = {}
    for model in (*SILVER_MODELS, *GOLD_MODELS):
        table = model.split("/")[-1]
        frame = pd.read_sql_query(f"select * from {table}", conn.conn)
        key = GOLD_KEYS.get(table, ["transaction_id"])
        out[table] = frame.sort_values(key).reset_index(drop=True)
    return out


def _load(conn, frame: pd.DataFrame, customers: pd.DataFrame) -> None:
    lineage = {"source": "test", "batch_id": "b", "ingested_at": "now"}
    conn.insert_new("bronze_transactions", "transaction_id", frame.assign(**lineage))
    conn.insert_new("bronze_customers", "customer_id", customers.assign(**lineage))


@pytest.fixture(scope="module")
def data():
    return without_device_first_use(generate(SETTINGS))


def _random_tenth(tx: pd.DataFrame) -> np.ndarray:
    """A late export: a tenth of all rows, interleaved with the rest."""
    return np.random.default_rng(0).random(len(tx)) < 0.1


def _few_customers_two_days(tx: pd.DataFrame) -> np.ndarray:
    """A small drop: two days of a twentieth of the customers."""
    rng = np.random.default_rng(1)
    customers = tx["customer_id"].unique()
    chosen = rng.choice(customers, size=len(customers) // 20, replace=False)
    day = (tx["created_at_epoch"] - tx["created_at_epoch"].min()) // 86400
    return (tx["customer_id"].isin(chosen) & day.isin([3, 9])).to_numpy()


@pytest.mark.parametrize("pick_late", [_random_tenth, _few_customers_two_days])
def test_incremental_equals_full_rebuild(tmp_path, data, pick_late) -> None:
    tx = data.transactions
    late = pick_late(tx)
    params = sql_params(SETTINGS)

    with SQLiteWarehouse(tmp_path / "inc.db").transaction() as conn:
        conn.apply_schema()
        _load(conn, tx[~late], data.customers)
        incremental.rebuild(conn, SILVER, params)
        incremental.rebuild(conn, GOLD, params)
        _load(conn, tx[late], data.customers)
        late_ids = tx.loc[late, "transaction_id"]
        replaced = incremental.refresh_touched(conn, params, late_ids)
        replaced.update(incremental.refresh_gold(conn, params))
        refreshed = _tables(conn)

    with SQLiteWarehouse(tmp_path / "full.db").transaction() as conn:
        conn.apply_schema()
        _load(conn, tx, data.customers)
        incremental.rebuild(conn, SILVER, params)
        incremental.rebuild(conn, GOLD, params)
        full = _tables(conn)

    assert replaced["silver/silver_transactions"] < len(tx)
    assert 0 < replaced["gold/gold_customer_risk"] < len(full["gold_customer_risk"])
    for table, expected in full.items():
        assert len(expected) > 0, table
        pd.testing.assert_frame_equal(refreshed[table], expected, obj=table)


def test_a_drop_recomputed_side_by_side_equals_a_full_rebuild(
    tmp_path, data, monkeypatch
) -> None:
    """After a committed drop, the warehouse's refresh recomputes the Silver
    models that read Bronze alone on connections of their own, beside the
    session: the tables (Gold's too) equal a full rebuild's."""
    tx = data.transactions
    late = _random_tenth(tx)
    params = sql_params(SETTINGS)
    sent: list[str] = []
    recompute = sqlite_aside.recompute_aside

    def spy(path, session, jobs):
        sent.extend(job.model.table for job in jobs)
        return recompute(path, session, jobs)

    monkeypatch.setattr(sqlite_aside, "recompute_aside", spy)

    def load(warehouse: SQLiteWarehouse, frame: pd.DataFrame, batch: str) -> None:
        with warehouse.transaction() as conn:
            conn.insert_new(
                "bronze_transactions",
                "transaction_id",
                frame.assign(source="test", batch_id=batch, ingested_at="now"),
            )

    partial = SQLiteWarehouse(tmp_path / "partial.db")
    with partial.transaction() as conn:
        conn.apply_schema()
        _load(conn, tx[~late], data.customers)
    partial.build_silver(params)
    partial.build_gold(params)
    load(partial, tx[late], "late")
    mode, _ = partial.build_silver(params, new_batches=["late"])
    partial.build_gold(params, incremental=True)

    with SQLiteWarehouse(tmp_path / "full.db").transaction() as conn:
        conn.apply_schema()
        _load(conn, tx[~late], data.customers)
        conn.insert_new(
            "bronze_transactions",
            "transaction_id",
            tx[late].assign(source="test", batch_id="late", ingested_at="now"),
        )
        incremental.rebuild(conn, SILVER, params)
        incremental.rebuild(conn, GOLD, params)
        full = _tables(conn)
    with partial.transaction() as conn:
        refreshed = _tables(conn)

    assert mode == "incremental"
    assert {
        "silver_customer_features",
        "silver_rule_impossible_travel",
    } <= set(sent)
    for table, expected in full.items():
        assert len(expected) > 0, table
        pd.testing.assert_frame_equal(refreshed[table], expected, obj=table)


def test_a_small_drop_touches_few_rows(tmp_path, data) -> None:
    tx = data.transactions
    params = sql_params(SETTINGS)
    one_customer = tx["customer_id"] == tx["customer_id"].iloc[0]
    newest = one_customer & (
        tx["created_at_epoch"] == tx.loc[one_customer, "created_at_epoch"].max()
    )
    with SQLiteWarehouse(tmp_path / "w.db").transaction() as conn:
        conn.apply_schema()
        _load(conn, tx[~newest], data.customers)
        incremental.rebuild(conn, SILVER, params)
        _load(conn, tx[newest], data.customers)
        replaced = incremental.refresh_touched(
            conn, params, tx.loc[newest, "transaction_id"]
        )
    assert 0 < replaced["silver/silver_transactions"] < len(tx) / 20


@pytest.mark.parametrize(("share", "full"), [(1.0, False), (0.0, True)])
def test_a_drop_touching_many_customers_gets_the_full_rebuild(
    tmp_path, data, share: float, full: bool
) -> None:
    from tasks.silver import _build

    settings = SETTINGS.model_copy(
        update={
            "paths": SETTINGS.paths.model_copy(update={"data_dir": tmp_path}),
            "ingest": SETTINGS.ingest.model_copy(
                update={"incremental_max_customer_share": share}
            ),
        }
    )
    tx = data.transactions
    one = tx["customer_id"] == tx["customer_id"].iloc[0]
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        conn.apply_schema()
        _load(conn, tx[~one], data.customers)
    _build(settings, None)
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        conn.insert_new(
            "bronze_transactions",
            "transaction_id",
            tx[one].assign(source="drop", batch_id="drop-1", ingested_at="now"),
        )
    mode, rows = _build(settings, ["drop-1"])
    assert (rows[FINAL_MODEL] == len(tx)) is full
    assert mode == ("full" if full else "incremental")


def _hand_built() -> list[dict]:
    """Rows where one late row changes rows minutes before it.

    A fifth new payer of MULE between the other four (whose rows must then
    be flagged too); an outflow from C1 forwarding an inflow C1 received
    minutes before; a fourth probe on card-9 after three, in the day's
    summary of rows without a bairro.
    """
    rows = [
        pix(
            f"v{i}",
            at(15, 5 * i),
            customer_id=f"P{i}",
            payee_id="MULE",
            amount_cents=50_000,
        )
        for i in range(5)
    ]
    rows += [
        pix("in", at(14), customer_id="P9", payee_id="C1", amount_cents=100_000),
        pix("out", at(14, 5), customer_id="C1", payee_id="X", amount_cents=80_000),
        tx("old", at(9, day=-3), customer_id="C1"),
    ]
    rows += [
        tx(
            f"probe{i}",
            at(3, i),
            card_id="card-9",
            entry_mode="not_present",
            amount_cents=100,
            auth_status="declined",
            # An online purchase a CSV gave coordinates but no bairro for.
            bairro=None if i >= 2 else "Barra",
        )
        for i in range(4)
    ]
    return rows


@pytest.mark.parametrize("late", ["v2", "out", "probe3"])
def test_a_late_row_inside_the_windows_updates_the_rows_around_it(late) -> None:
    rows = _hand_built()
    drop = [row for row in rows if row["transaction_id"] == late]
    params = sql_params(Settings())
    conn = warehouse_with([row for row in rows if row["transaction_id"] != late])
    incremental.rebuild(conn, SILVER, params)
    incremental.rebuild(conn, GOLD, params)
    conn.insert_new("bronze_transactions", "transaction_id", pd.DataFrame(drop))
    incremental.refresh_touched(conn, params, [late])
    incremental.refresh_gold(conn, params)
    refreshed = _tables(conn)

    full_conn = warehouse_with(rows)
    incremental.rebuild(full_conn, SILVER, params)
    incremental.rebuild(full_conn, GOLD, params)
    full = _tables(full_conn)

    flags = full["silver_transactions"].set_index("transaction_id")["anomaly_flag"]
    assert flags[[f"v{i}" for i in range(5)]].eq("mule_fan_in").all()
    assert flags["out"] == "mule_pass_through"
    assert flags["probe0"] == "card_testing"
    for table, expected in full.items():
        pd.testing.assert_frame_equal(refreshed[table], expected, obj=table)


def test_a_late_payment_changes_the_rows_after_it_and_none_long_before(
    monkeypatch,
) -> None:
    """The customer models recompute from the earliest new row on (less the
    velocity window, which looks either side): a late payment changes the
    features of the customer's later payments and the burst count of one
    minutes before it, and must leave an older payment as it was."""
    rows = [
        tx("old", at(9, day=-3)),
        tx("just-before", at(13, 55)),
        pix("late", at(14), amount_cents=20_000),
        pix("after", at(16)),
        tx("next-day", at(10, day=1), category="farmacia"),
    ]
    params = sql_params(Settings())
    conn = warehouse_with([row for row in rows if row["transaction_id"] != "late"])
    incremental.rebuild(conn, SILVER, params)
    incremental.rebuild(conn, GOLD, params)
    before = _tables(conn)
    old_features = "select * from silver_customer_features where transaction_id = 'old'"
    old_before = conn.fetchall(old_features)
    conn.insert_new(
        "bronze_transactions",
        "transaction_id",
        pd.DataFrame([row for row in rows if row["transaction_id"] == "late"]),
    )
    # The rows each model recomputes and compares (its scope).
    scopes: dict[str, set[str]] = {}
    replace = incremental._replace_partitions

    def recording(session, model, *args):
        result = replace(session, model, *args)
        scope = session.fetchall("select transaction_id from temp.scope")
        scopes[model.table] = {row[0] for row in scope}
        return result

    monkeypatch.setattr(incremental, "_replace_partitions", recording)
    replaced = incremental.refresh_touched(conn, params, ["late"])
    incremental.refresh_gold(conn, params)
    rescored = {row[0] for row in conn.fetchall("select * from temp.gold_rows")}
    refreshed = _tables(conn)
    changed = {
        row[0]
        for row in conn.fetchall(
            f"select transaction_id from {incremental.CHANGES_TABLE}"
        )
    }

    full_conn = warehouse_with(rows)
    incremental.rebuild(full_conn, SILVER, params)
    incremental.rebuild(full_conn, GOLD, params)
    full = _tables(full_conn)
    for table, expected in full.items():
        pd.testing.assert_frame_equal(refreshed[table], expected, obj=table)

    features = {
        name: frame.set_index("transaction_id")
        for name, frame in (
            ("before", before["silver_customer_features"]),
            ("after", refreshed["silver_customer_features"]),
        )
    }
    # Within the reach: the later rows see one more earlier payment.
    assert features["after"].loc["after", "history_rows"] == 3
    assert features["before"].loc["after", "history_rows"] == 2
    assert features["after"].loc["next-day", "history_rows"] == 4
    velocity = refreshed["silver_customer_windows"].set_index("transaction_id")
    assert velocity.loc["just-before", "velocity_count"] == 2
    pairs = refreshed["silver_pix_transfers"].set_index("transaction_id")
    assert pairs.loc["after", "is_new_payee"] == 0
    assert changed >= {"late", "just-before", "after", "next-day"}
    # Beyond it: the older payment is neither recomputed into a change nor
    # rewritten.
    assert "old" not in changed
    assert replaced["silver/silver_customer_features"] == 3
    assert conn.fetchall(old_features) == old_before
    assert scopes["silver_customer_features"] == {"late", "after", "next-day"}
    # Velocity looks either side; the Pix pairs read the windows (changed
    # from just before on) beside Bronze.
    near = {"just-before", "late", "after", "next-day"}
    assert scopes["silver_customer_windows"] == scopes["silver_pix_transfers"] == near
    # Gold rescores the customer's transactions from the earliest change on.
    assert rescored == near


def test_models_bounded_ahead_read_only_tables_whose_changes_are_timed() -> None:
    """The refresh knows when Bronze transactions and each Silver model
    changed, not the customers' table: a model bounded by ``ahead`` that read
    it could miss a changed night limit on an older row."""
    from ssa.engines.base import names_read

    timed = {"bronze_transactions", *(m.table for m in SILVER)}
    bounded = [m for m in SILVER if m.partition and m.partition.ahead is not None]
    assert {m.table for m in bounded} >= {"silver_customer_features"}
    for model in bounded:
        assert not names_read(model.name) & {"bronze_customers"}, model.name
        assert model.partition.driver in timed


def _drop_one_customer(settings: Settings, data, batch: str) -> None:
    """A drop of one customer's newest payment, not yet in Bronze."""
    tx = data.transactions
    one = tx["customer_id"] == tx["customer_id"].iloc[0]
    newest = tx[one].nlargest(1, "created_at_epoch")
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        conn.insert_new(
            "bronze_transactions",
            "transaction_id",
            newest.assign(source="drop", batch_id=batch, ingested_at="now"),
        )


def _assert_gold_as_built_from_scratch(settings: Settings) -> None:
    """Gold's tables equal those a build from scratch makes of Silver now."""
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        refreshed = _tables(conn)
        incremental.rebuild(conn, GOLD, sql_params(settings))
        rebuilt = _tables(conn)
    for table in GOLD_KEYS:
        pd.testing.assert_frame_equal(refreshed[table], rebuilt[table])


def test_a_refresh_after_a_changed_setting_is_a_full_build(tmp_path, data) -> None:
    """Rows a refresh keeps were made with the old threshold: with a new one
    the first refresh of each layer is a full build, and equals one."""
    from tasks.gold import _build as build_gold
    from tasks.silver import _build as build_silver

    settings = SETTINGS.model_copy(
        update={"paths": SETTINGS.paths.model_copy(update={"data_dir": tmp_path})}
    )
    tx = data.transactions
    kept = tx.drop(tx[tx["customer_id"] == tx["customer_id"].iloc[0]].index[-1:])
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        conn.apply_schema()
        _load(conn, kept, data.customers)
    assert build_silver(settings, None)[0] == "full"
    build_gold(settings)
    # The same settings: a drop refreshes both layers in part.
    _drop_one_customer(settings, data, "drop-1")
    assert build_silver(settings, ["drop-1"])[0] == "incremental"
    assert build_gold(settings, incremental=True)[2] is None
    # A Silver threshold changed: Silver in full.
    silver_changed = settings.model_copy(
        update={"rules": settings.rules.model_copy(update={"velocity_min_count": 3})}
    )
    said: list[str] = []
    assert build_silver(silver_changed, [], said.append)[0] == "full"
    assert any("settings changed" in line for line in said)
    # A Gold cut-off changed: Gold in full, equal to a build from scratch.
    gold_changed = silver_changed.model_copy(
        update={"risk": settings.risk.model_copy(update={"level_medium": 30})}
    )
    assert build_silver(gold_changed, [])[0] == "incremental"
    assert "settings changed" in build_gold(gold_changed, incremental=True)[2]
    _assert_gold_as_built_from_scratch(gold_changed)
    # Now noted: the next drop refreshes in part again.
    assert build_gold(gold_changed, incremental=True)[2] is None


@pytest.mark.parametrize("whole", [False, True])
def test_a_refresh_that_stopped_before_gold_makes_the_next_gold_whole(
    tmp_path, data, whole: bool
) -> None:
    """Silver committed, then the run stopped before Gold: the next drop's
    changes are not the ones Gold missed, so Gold is built whole and equals
    a build from scratch."""
    from tasks.gold import _build as build_gold
    from tasks.silver import _build as build_silver

    settings = SETTINGS.model_copy(
        update={"paths": SETTINGS.paths.model_copy(update={"data_dir": tmp_path})}
    )
    tx = data.transactions
    first, second = tx["customer_id"].unique()[:2]
    late = tx[tx["customer_id"].isin([first, second])].groupby("customer_id").tail(1)
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        conn.apply_schema()
        _load(conn, tx.drop(late.index), data.customers)
    build_silver(settings, None)
    build_gold(settings)

    def drop(rows: pd.DataFrame, batch: str) -> None:
        with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
            conn.insert_new(
                "bronze_transactions",
                "transaction_id",
                rows.assign(source="drop", batch_id=batch, ingested_at="now"),
            )

    drop(late.iloc[:1], "drop-1")
    # Stops after Silver: a refresh of the drop, or a full build.
    assert build_silver(settings, None if whole else ["drop-1"])[0] == (
        "full" if whole else "incremental"
    )
    drop(late.iloc[1:], "drop-2")
    assert build_silver(settings, ["drop-2"])[0] == "incremental"
    assert "stopped" in build_gold(settings, incremental=True)[2]
    _assert_gold_as_built_from_scratch(settings)
    # Gold matches Silver again: the next drop refreshes it in part.
    assert build_silver(settings, [])[0] == "incremental"
    assert build_gold(settings, incremental=True)[2] is None
