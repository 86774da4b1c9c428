"""A Prefect worker whose flow runs start in its own, already-started process.

    python -m flows.warm_worker --pool ssa-local --queue refresh

Prefect's process worker starts a new Python process for every run (on
Prefect 3.9 two: a supervisor, then the engine), and each imports Prefect,
pandas and the project again: seconds before the first line of a refresh
that itself takes seconds. This worker polls one queue of the same work
pool, loads the flow of each deployment on that queue once, when it starts,
and runs each flow run in a thread of its own process through Prefect's
engine (``prefect.flow_engine.run_flow``), the way the engine process would.
The run is the same to the server and the UI: states, logs, artifacts, the
pool's concurrency limit, ``prefect deployment run``.

What it gives up, so it serves only the short refresh after a drop: a run
shares the worker's memory (a crash in native code takes the worker down
with the run, which then shows as Running until marked in the UI, and
``scripts/stack.py down`` / ``up`` starts a new worker), a running run
cannot be cancelled from the UI (it ends within seconds), and code changes
are seen after a restart, as with ``flow.serve()``. Deployments that need
a clean process per run (the daily month, training, the live simulation)
stay on the process worker.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import ctypes
import gc
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import anyio
import anyio.abc
import psutil
from prefect.client.schemas.filters import (
    DeploymentFilter,
    WorkPoolFilter,
    WorkPoolFilterName,
    WorkQueueFilter,
    WorkQueueFilterName,
)
from prefect.flow_engine import run_flow
from prefect.flows import load_flow_from_entrypoint
from prefect.workers.process import (
    ProcessJobConfiguration,
    ProcessWorker,
    ProcessWorkerResult,
)

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.client.schemas.responses import DeploymentResponse
    from prefect.flows import Flow

WORKING_DIRECTORY_STEP = "prefect.deployments.steps.set_working_directory"


class DeploymentNotServed(RuntimeError):
    """A run this worker cannot start in its own process; the message says why."""


def pulled_directory(deployment: DeploymentResponse) -> Path | None:
    """The folder the deployment's pull steps would change to (None: no steps).

    Only ``set_working_directory`` is understood: cloning or downloading code
    per run is what a fresh process is for.
    """
    directory = None
    for step in deployment.pull_steps or []:
        (name, inputs), *_ = step.items()
        if name != WORKING_DIRECTORY_STEP:
            raise DeploymentNotServed(
                f"deployment {deployment.name!r}: pull step {name!r} needs a "
                "process per run; put this deployment on the process worker's queue"
            )
        directory = Path(inputs["directory"])
    return directory


def execute(flow: Flow[..., Any], flow_run: FlowRun) -> None:
    """One run through Prefect's engine, on this thread's own event loop, as
    the engine process does it. Failures end as the run's state, not here."""
    outcome = run_flow(flow, flow_run=flow_run, return_type="state")
    if asyncio.iscoroutine(outcome):
        asyncio.run(outcome)


def release_memory() -> tuple[int, int]:
    """Give back what a run freed; RSS before and after, in bytes.

    A refresh of a million-row warehouse holds pandas frames of hundreds of
    megabytes; freed, glibc keeps them in the heap, so a process that lives
    on would hold each run's peak (a new process per run never had to care).
    """
    before = psutil.Process().memory_info().rss
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
    return before, psutil.Process().memory_info().rss


# abc.ABC keeps this class out of Prefect's registry of worker types, where it
# would replace the process worker under the name "process" in this process.
class WarmProcessWorker(ProcessWorker, abc.ABC):
    """A process-pool worker that runs flows in its own process (see above)."""

    _description = "Runs its queue's flow runs in its own, already-started process."
    _display_name = "Warm process"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._flows: dict[UUID, Flow[..., Any]] = {}

    async def setup(self) -> None:
        """Connect, then load the flows of the queue's deployments now, so the
        first run does not pay for their imports."""
        await super().setup()
        deployments = await self.client.read_deployments(
            deployment_filter=DeploymentFilter(),
            work_pool_filter=WorkPoolFilter(
                name=WorkPoolFilterName(any_=[self._work_pool_name])
            ),
            work_queue_filter=WorkQueueFilter(
                name=WorkQueueFilterName(any_=sorted(self._work_queues))
            )
            if self._work_queues
            else None,
        )
        for deployment in deployments:
            try:
                await self._flow_of(deployment)
            except DeploymentNotServed as exc:
                self._logger.warning("%s", exc)
            else:
                self._logger.info(
                    "loaded %s for deployment %r",
                    deployment.entrypoint,
                    deployment.name,
                )

    async def _flow_of(self, deployment: DeploymentResponse) -> Flow[..., Any]:
        """The deployment's flow, loaded once from this worker's own folder."""
        if deployment.id in self._flows:
            return self._flows[deployment.id]
        if not deployment.entrypoint:
            raise DeploymentNotServed(
                f"deployment {deployment.name!r} has no entrypoint"
            )
        directory = pulled_directory(deployment)
        here = Path.cwd().resolve()
        if directory is not None and directory.resolve() != here:
            raise DeploymentNotServed(
                f"deployment {deployment.name!r} runs from {directory}, this worker "
                f"from {here}: start the worker in that folder"
            )
        flow = await anyio.to_thread.run_sync(
            load_flow_from_entrypoint, deployment.entrypoint, False
        )
        self._flows[deployment.id] = flow
        return flow

    async def run(
        self,
        flow_run: FlowRun,
        configuration: ProcessJobConfiguration,
        task_status: anyio.abc.TaskStatus[int] | None = None,
    ) -> ProcessWorkerResult:
        if flow_run.deployment_id is None:
            raise DeploymentNotServed(f"flow run {flow_run.name!r} has no deployment")
        deployment = await self.client.read_deployment(flow_run.deployment_id)
        flow = await self._flow_of(deployment)
        if task_status is not None:
            task_status.started(os.getpid())
        # A thread with its own event loop: the flow's blocking steps never
        # hold up this worker's polls and heartbeats.
        try:
            await anyio.to_thread.run_sync(execute, flow, flow_run)
        finally:
            before, after = await anyio.to_thread.run_sync(release_memory)
            self._logger.info(
                "run %s ended; RSS %.0f MiB (%.0f MiB before freed memory "
                "was given back)",
                flow_run.name,
                after / 2**20,
                before / 2**20,
            )
        return ProcessWorkerResult(status_code=0, identifier=str(os.getpid()))

    async def kill_infrastructure(
        self,
        infrastructure_pid: str,
        configuration: ProcessJobConfiguration,
        grace_seconds: int = 30,
    ) -> None:
        """Never the process worker's kill: the "infrastructure" is this worker."""
        raise NotImplementedError(
            "a run of the warm worker runs in the worker's own process"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--pool", required=True, help="work pool (type process)")
    parser.add_argument(
        "--queue", required=True, help="the pool's queue whose runs this worker takes"
    )
    parser.add_argument("--name", help="worker name shown in the UI")
    parser.add_argument(
        "--limit", type=int, default=1, help="runs at once in this process"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    worker = WarmProcessWorker(
        work_pool_name=args.pool,
        work_queues=[args.queue],
        name=args.name,
        create_pool_if_not_found=False,
        limit=args.limit,
    )
    # SIGTERM (what `scripts/stack.py down` sends) stops it as Ctrl-C does:
    # the run in progress ends first, then the worker says it is offline.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker.start())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
