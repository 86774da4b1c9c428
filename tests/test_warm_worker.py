"""flows/warm_worker.py: a deployment's runs in the worker's own process, as
the server and the UI see any run (state, result, artifacts, a clear failure)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.workers.process import ProcessWorker
from prefect.workers.utilities import (
    get_default_base_job_template_for_infrastructure_type,
)

from flows.warm_worker import (
    WORKING_DIRECTORY_STEP,
    DeploymentNotServed,
    WarmProcessWorker,
    pulled_directory,
)
from tests.warm_flows import warm_failure, warm_probe

PROJECT = Path(__file__).resolve().parent.parent
POOL = "warm-test"
QUEUE = "refresh"


async def _deploy(client, flow, entrypoint: str, queue: str) -> str:
    flow_id = await client.create_flow(flow)
    deployment_id = await client.create_deployment(
        flow_id=flow_id,
        name=f"{flow.name}-{queue}",
        entrypoint=entrypoint,
        work_pool_name=POOL,
        work_queue_name=queue,
        pull_steps=[{WORKING_DIRECTORY_STEP: {"directory": str(PROJECT)}}],
    )
    return str(deployment_id)


async def _run_through_worker(monkeypatch) -> dict:
    monkeypatch.chdir(PROJECT)
    async with get_client() as client:
        template = await get_default_base_job_template_for_infrastructure_type(
            "process"
        )
        await client.create_work_pool(
            WorkPoolCreate(name=POOL, type="process", base_job_template=template)
        )
        probe = await _deploy(
            client, warm_probe, "tests/warm_flows.py:warm_probe", QUEUE
        )
        failing = await _deploy(
            client, warm_failure, "tests/warm_flows.py:warm_failure", QUEUE
        )
        other = await _deploy(
            client, warm_probe, "tests/warm_flows.py:warm_probe", "default"
        )
        runs = {
            "probe": await client.create_flow_run_from_deployment(
                probe, parameters={"word": "morno"}
            ),
            "failing": await client.create_flow_run_from_deployment(
                failing, parameters={"path": "/nowhere"}
            ),
            "other": await client.create_flow_run_from_deployment(
                other, parameters={"word": "frio"}
            ),
        }
    worker = WarmProcessWorker(
        work_pool_name=POOL, work_queues=[QUEUE], name="warm-test-worker", limit=2
    )
    await worker.start(run_once=True)
    async with get_client() as client:
        found = {k: await client.read_flow_run(r.id) for k, r in runs.items()}
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["warm-probe"]))
        )
    return {"runs": found, "artifacts": artifacts}


def test_runs_of_its_queue_run_in_its_own_process(prefect_harness, monkeypatch):
    seen = asyncio.run(_run_through_worker(monkeypatch))
    probe, failing, other = (seen["runs"][k] for k in ("probe", "failing", "other"))
    assert probe.state.is_completed(), probe.state
    assert probe.infrastructure_pid == str(os.getpid())
    (artifact,) = seen["artifacts"]
    assert artifact.flow_run_id == probe.id
    assert artifact.data == f"morno in pid {os.getpid()}"
    # A failing flow fails its run with its own message; the worker goes on.
    assert failing.state.is_failed(), failing.state
    assert "no warehouse at /nowhere" in failing.state.message
    # Another queue of the pool is the process worker's: left alone.
    assert other.state.is_scheduled(), other.state


def test_a_pull_step_it_cannot_run_here_is_refused_naming_it() -> None:
    deployment = SimpleNamespace(
        name="on-drop",
        pull_steps=[{"prefect.deployments.steps.git_clone": {"repository": "x"}}],
    )
    with pytest.raises(DeploymentNotServed, match=r"'on-drop'.*git_clone"):
        pulled_directory(deployment)  # type: ignore[arg-type]


def test_it_is_not_registered_as_the_process_worker() -> None:
    from prefect.workers.base import BaseWorker

    assert BaseWorker.get_worker_class_from_type("process") is ProcessWorker
