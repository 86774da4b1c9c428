"""prefect.yaml says what the README promises: which flows, when, how many at once."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.stack import DEPLOYMENTS, POOL

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


def test_parameters_are_valid_settings(
    deployments: dict[str, dict[str, Any]],
) -> None:
    from ssa.settings import Settings

    for deployment in deployments.values():
        Settings.model_validate(deployment["parameters"]["settings"])


def test_training_is_a_deployment_whose_schedule_starts_off(
    deployments: dict[str, dict[str, Any]],
) -> None:
    train = deployments["train-risk-model/train"]
    assert train["entrypoint"] == "flows/train.py:train_risk_model"
    (schedule,) = train["schedules"]
    assert schedule["active"] is False
    assert schedule["slug"]
