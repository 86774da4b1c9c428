"""The project as a user operates it: deployments run on the local stack and
show up in the Prefect UI with their state and artifacts.

Each check goes through what a person uses: `prefect deployment run`, the
watcher's event (or a dropped file), the API for waiting, and the run pages
in a real browser. Screenshots land in bench/results/ui/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scripts.stack import DEPLOYMENTS
from tests.integration.conftest import LiveStack

pytestmark = pytest.mark.integration

PIPELINE, REFRESH, _TRAIN, LIVE, _REBUILD = DEPLOYMENTS
# A few days for a few hundred customers: every stage runs, in seconds.
SMALL = {"generator": {"n_customers": 200, "days": 3}}
UI_TIMEOUT_MS = 90_000
# On the run a person launched (the daily run, the on-drop run), not only on
# their silver-gold-refresh subflow.
REFRESH_ARTIFACTS = (
    "run-summary",
    "top-anomalies",
    "detection-report",
    "dashboard",
    "output-files",
)


def assert_completed(live: LiveStack, run: dict[str, Any]) -> None:
    assert run["state_type"] == "COMPLETED", (
        f"{run['name']} ended {run['state_name']}: "
        f"{(run.get('state') or {}).get('message')}\n{live.logs(run['id'])}"
    )


def new_page(browser: Any) -> Any:
    """A tab that waits for what it looks for, not for the network to go quiet
    (the UI polls the API for ever); generous, as a loaded laptop is slow."""
    page = browser.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.set_default_navigation_timeout(UI_TIMEOUT_MS)
    return page


def open_run_page(
    live: LiveStack,
    browser: Any,
    run: dict[str, Any],
    shot: Path,
    artifacts: tuple[str, ...],
    state: str = "Completed",
    in_logs: tuple[str, ...] = (),
) -> str:
    """The run page as a person sees it: name, state, logs, then the Artifacts tab."""
    page = new_page(browser)
    try:
        page.goto(f"{live.ui_url}/runs/flow-run/{run['id']}")
        page.get_by_text(run["name"], exact=True).first.wait_for()
        page.get_by_text(state, exact=True).first.wait_for()
        for words in in_logs:
            page.get_by_text(words).first.wait_for()
        page.screenshot(path=shot.with_name(f"{shot.stem}-logs.png"), full_page=True)
        text = page.inner_text("body")
        if artifacts:
            page.locator("li.p-tab", has_text="Artifacts").first.click()
            for key in artifacts:
                page.get_by_text(key, exact=True).first.wait_for()
            page.screenshot(path=shot, full_page=True)
            text = page.inner_text("body")
        return text
    finally:
        page.close()


def drop_file(live: LiveStack) -> str:
    """A small export dropped the way the README says: written aside, renamed in.

    Rows for customers the daily run created, the day after its month, in the
    documented input contract (one amount with a decimal comma, as Brazilian
    spreadsheets write it).
    """
    incoming = live.project / "data" / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    part = incoming / ".ui-test-drop.csv.part"
    part.write_text(
        "transaction_id,created_at,customer_id,channel,amount,bairro\n"
        "UI-TEST-0001,2026-10-04T10:15:00-03:00,C0000013,pix,125.40,Liberdade\n"
        'UI-TEST-0002,2026-10-04T10:45:00-03:00,C0000070,credit,"1.234,56",'
        "Sussuarana\n",
        encoding="utf-8",
    )
    part.rename(incoming / "ui-test-drop.csv")
    return "ui-test-drop.csv"


def test_deployment_run_and_drop_show_up_in_the_ui(
    live_stack: LiveStack, browser: Any, shots: Path
) -> None:
    live = live_stack
    # 1. A user runs the whole pipeline from its deployment.
    run_id = live.deployment_run(PIPELINE, SMALL)
    pipeline_run = live.wait_final(run_id)
    assert_completed(live, pipeline_run)
    (subflow,) = live.subflow_runs(run_id)
    assert_completed(live, subflow)
    assert set(live.artifacts(run_id)) >= {"pipeline-summary", *REFRESH_ARTIFACTS}
    assert pipeline_run["name"].startswith("daily · seed 42, 3 days from"), (
        pipeline_run["name"]
    )
    logs = live.logs_with(run_id, "generated", "bronze:")
    assert "generated" in logs and "bronze:" in logs, logs

    # 2. A file lands in data/incoming; the watcher loads it and asks for a
    # refresh, and the deployment trigger starts one.
    known = {r["id"] for r in live.runs_of(REFRESH)}
    drop_file(live)
    triggered = live.wait_new_run(REFRESH, known)
    refresh_run = live.wait_final(triggered["id"])
    assert_completed(live, refresh_run)
    # The refresh publishes its artifacts itself, and its name says which
    # files it takes in; its subflow did the Silver work.
    assert set(live.artifacts(refresh_run["id"])) >= set(REFRESH_ARTIFACTS)
    assert "ui-test-drop.csv" in refresh_run["name"], refresh_run["name"]
    (refresh_subflow,) = live.subflow_runs(refresh_run["id"])
    assert "silver_transactions:" in live.logs_with(
        refresh_subflow["id"], "silver_transactions:"
    )

    # 3. The runs, their state and their artifacts, in a real browser.
    text = open_run_page(
        live,
        browser,
        pipeline_run,
        shots / "pipeline-run.png",
        ("pipeline-summary", *REFRESH_ARTIFACTS),
        in_logs=("generated", "bronze:"),
    )
    assert "medallion-pipeline" in text and "daily" in text
    text = open_run_page(live, browser, subflow, shots / "pipeline-subflow-run.png", ())
    assert "silver-gold full" in text
    text = open_run_page(
        live, browser, refresh_run, shots / "on-drop-run.png", REFRESH_ARTIFACTS
    )
    assert "on-drop" in text and "ui-test-drop.csv" in text

    # 4. The top-anomalies table, the dashboard's picture and the deployments.
    artifacts = live.artifacts(refresh_run["id"])
    page = new_page(browser)
    try:
        page.goto(
            f"{live.ui_url}/artifacts/artifact/{artifacts['top-anomalies']['id']}"
        )
        page.get_by_text("risk_score").first.wait_for()
        page.screenshot(path=shots / "top-anomalies.png", full_page=True)
        page.goto(f"{live.ui_url}/artifacts/artifact/{artifacts['dashboard']['id']}")
        image = page.locator("img[src^='data:image/png']").first
        image.wait_for()
        assert image.evaluate("i => i.complete && i.naturalWidth > 0")
        page.screenshot(path=shots / "dashboard-artifact.png", full_page=True)
        page.goto(f"{live.ui_url}/deployments")
        for name in ("daily", "on-drop"):
            page.get_by_text(name, exact=True).first.wait_for()
        page.screenshot(path=shots / "deployments.png", full_page=True)
    finally:
        page.close()


def test_a_bad_input_fails_the_run_with_a_clear_message(
    live_stack: LiveStack, browser: Any, shots: Path, tmp_path: Path
) -> None:
    live = live_stack
    missing = tmp_path / "salvador_bairros.csv"
    params = {**SMALL, "paths": {"bairros_csv": str(missing)}}
    run = live.wait_final(live.deployment_run(PIPELINE, params))
    assert run["state_type"] == "FAILED", run["state_name"]
    message = run["state"]["message"]
    assert f"bairro reference table not found: {missing}" in message, message
    open_run_page(
        live,
        browser,
        run,
        shots / "daily-failed.png",
        (),
        state="Failed",
        in_logs=("bairro reference table not found",),
    )


def test_refresh_on_an_empty_warehouse_fails_with_a_clear_message(
    live_stack: LiveStack, browser: Any, shots: Path, tmp_path: Path
) -> None:
    live = live_stack
    empty = tmp_path / "no-warehouse-here"
    params = {"paths": {"data_dir": str(empty)}}
    run = live.wait_final(live.deployment_run(REFRESH, params))
    assert run["state_type"] == "FAILED", run["state_name"]
    message = run["state"]["message"]
    assert "no bronze_transactions" in message and str(empty) in message, message
    open_run_page(
        live,
        browser,
        run,
        shots / "on-drop-failed.png",
        (),
        state="Failed",
        in_logs=("has no bronze_transactions: run the medallion pipeline",),
    )
