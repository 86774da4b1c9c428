"""prefect.yaml says what the README promises: which flows, when, how many at once."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.stack import DEPLOYMENTS, POOL, PROCESS_QUEUE, WARM_QUEUE

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def deployments() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text(encoding="utf-8"))
    found = {}
    for deployment in config["deployments"]:
        module, function = deployment["entrypoint"].split(":")
        flow = getattr(
            importlib.import_module(module.removesuffix(".py").replace("/", ".")),
            function,
        )
        found[f"{flow.name}/{deployment['name']}"] = deployment
    assert config["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}
    ]
    return found


def test_the_stack_and_the_file_name_the_same_deployments(
    deployments: dict[str, dict[str, Any]],
) -> None:
    assert set(deployments) == set(DEPLOYMENTS)
    assert {d["work_pool"]["name"] for d in deployments.values()} == {POOL}


def test_only_the_refresh_after_a_drop_goes_to_the_warm_worker(
    deployments: dict[str, dict[str, Any]],
) -> None:
    """One pool (one slot for every run); the short refresh on the queue of
    the worker that runs flows in its started process, the rest each in a
    process of their own."""
    queues = {
        name: d["work_pool"]["work_queue_name"] for name, d in deployments.items()
    }
    assert queues.pop("incoming-refresh/on-drop") == WARM_QUEUE
    assert set(queues.values()) == {PROCESS_QUEUE}


def test_the_daily_run_is_scheduled_but_off_until_a_user_turns_it_on(
    deployments: dict[str, dict[str, Any]],
) -> None:
    (schedule,) = deployments["medallion-pipeline/daily"]["schedules"]
    assert schedule["active"] is False
    assert schedule["slug"]  # stack.py keeps a user's on/off by slug
    assert schedule["timezone"] == "America/Bahia"


def test_refreshes_never_overlap_and_queue_instead_of_being_dropped(
    deployments: dict[str, dict[str, Any]],
) -> None:
    refresh = deployments["incoming-refresh/on-drop"]
    assert refresh["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    (trigger,) = refresh["triggers"]
    assert trigger["expect"] == ["ssa.incoming.refresh-requested"]
    assert trigger["match"] == {"prefect.resource.id": "ssa.incoming"}
    assert (trigger["posture"], trigger["threshold"], trigger["within"]) == (
        "Reactive",
        1,
        0,
    )


def _flow(deployment: dict[str, Any]):
    module, function = deployment["entrypoint"].split(":")
    return getattr(
        importlib.import_module(module.removesuffix(".py").replace("/", ".")),
        function,
    )


def test_each_form_shows_its_groups_with_no_machine_path(
    deployments: dict[str, dict[str, Any]],
) -> None:
    """The daily form: generator, paths, engine; the refresh: its data folder
    and the event's range. Every other setting waits, empty, in `settings`;
    no default is a path of the machine that deployed."""
    from ssa.settings import with_groups

    expected = {
        "medallion-pipeline/daily": {"generator", "paths", "engine"},
        "incoming-refresh/on-drop": {"paths"},
        "train-risk-model/train": {"paths"},
        "silver-gold-rebuild/rebuild": {"paths"},
        "live-simulation/live": {"simulation", "paths"},
    }
    for name, deployment in deployments.items():
        flow = _flow(deployment)
        assert set(deployment["parameters"]) == expected[name]
        validated = flow.validate_parameters(deployment["parameters"])
        groups = {k: v for k, v in validated.items() if k in expected[name]}
        with_groups(validated.get("settings"), **groups)  # valid settings
        schema = json.dumps(flow.parameters.model_dump())
        assert str(PROJECT) not in schema, name
        assert flow.parameters.properties["settings"]["default"] is None


def test_the_on_drop_run_gets_the_events_range_and_files(
    deployments: dict[str, dict[str, Any]],
) -> None:
    (trigger,) = deployments["incoming-refresh/on-drop"]["triggers"]
    params = trigger["parameters"]
    assert params["after_log_seq"] == "{{ event.payload.after_log_seq }}"
    assert params["up_to_log_seq"] == "{{ event.payload.up_to_log_seq }}"
    assert params["files"] == "{{ event.payload.files | join(', ') }}"
    # What the watcher emits carries every key the trigger reads.
    from flows.watcher import refresh_event
    from ssa.intake.ingest_log import PendingRefresh
    from ssa.settings import Settings

    pending = PendingRefresh(
        after_log_seq=3, up_to_log_seq=5, files=("a.csv",), rows_loaded=10
    )
    payload = refresh_event(pending, Settings())["payload"]
    read = {"after_log_seq", "up_to_log_seq", "files", "paths", "settings", "engine"}
    assert read <= set(payload)


def test_the_on_drop_run_gets_the_watchers_settings(
    deployments: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The trigger's parameters rendered from the watcher's event as Prefect's
    server renders them, then validated as the run's parameters: the run
    refreshes with the watcher's --set values and folders, not the defaults."""
    import copy

    from prefect.server.events.actions import RunDeployment
    from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

    from flows.ingest import incoming_refresh
    from flows.watcher import parse_args, refresh_event
    from ssa.intake.ingest_log import PendingRefresh
    from ssa.settings import with_groups

    watcher, _mode = parse_args(
        [
            "--data-dir",
            str(tmp_path),
            "--incoming",
            "drops",
            "--set",
            "rules.velocity_min_count=6",
            "--set",
            "limits.future_tolerance_seconds=60",
            "--mode",
            "prefect",
        ]
    )
    pending = PendingRefresh(
        after_log_seq=3, up_to_log_seq=5, files=("a.csv",), rows_loaded=10
    )
    event = refresh_event(pending, watcher)
    (trigger,) = deployments["incoming-refresh/on-drop"]["triggers"]
    params = copy.deepcopy(trigger["parameters"])
    RunDeployment._upgrade_v1_templates(params)
    rendered = hydrate(
        params,
        HydrationContext(
            raise_on_error=True, render_jinja=True, jinja_context={"event": event}
        ),
    )
    given = incoming_refresh.validate_parameters(rendered)
    run = with_groups(given["settings"], paths=given["paths"], engine=given["engine"])
    assert run.rules.velocity_min_count == 6
    assert run.limits.future_tolerance_seconds == 60
    assert run.paths.incoming_path == watcher.paths.incoming_path == tmp_path / "drops"
    assert run == watcher
    assert (given["after_log_seq"], given["up_to_log_seq"]) == (3, 5)


def test_failures_notify_through_a_named_block() -> None:
    from prefect.events.schemas.automations import AutomationCore

    from scripts.stack import ALERT_BLOCK_NAME, automations_from_file, resolve_blocks

    (automation,) = automations_from_file(PROJECT)
    assert resolve_blocks(automation, {}) is None  # no block yet: not created
    block_id = "00000000-0000-4000-8000-000000000001"
    resolved = resolve_blocks(automation, {ALERT_BLOCK_NAME: block_id})
    core = AutomationCore.model_validate(resolved)
    assert {"prefect.flow-run.Failed", "prefect.flow-run.TimedOut"} <= set(
        core.trigger.expect
    )
    (action,) = core.actions
    assert str(action.block_document_id) == block_id


def test_flows_time_out() -> None:
    from flows.ingest import incoming_refresh
    from flows.medallion import medallion_pipeline

    assert medallion_pipeline.timeout_seconds and incoming_refresh.timeout_seconds


def test_training_is_a_deployment_whose_schedule_starts_off(
    deployments: dict[str, dict[str, Any]],
) -> None:
    train = deployments["train-risk-model/train"]
    assert train["entrypoint"] == "flows/train.py:train_risk_model"
    (schedule,) = train["schedules"]
    assert schedule["active"] is False
    assert schedule["slug"]
