"""The real local stack in a temporary copy of the project, and a headless browser.

The stack is started the way a user starts it (``scripts/stack.py up``) on a
free loopback port, in a copy of the project so its warehouse, exports and
Prefect database (``.prefect/`` in the copy) never touch the developer's.
It is torn down with ``scripts/stack.py down`` whatever the tests did.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from scripts.setup_test_deps import find_chromium
from scripts.stack import COMPONENTS, Stack, free_port

PROJECT = Path(__file__).resolve().parents[2]
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# Flags for a headless Chromium on a machine with no display, GPU or network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP_DIRS = {
    ".git",
    ".venv",
    ".prefect",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "bench",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "integration: starts the real Prefect stack and a browser (about a minute)",
    )


def _ignore(directory: str, names: list[str]) -> set[str]:
    """Copy code, SQL and reference data; leave state and generated data behind."""
    here = Path(directory)
    skipped = {n for n in names if n in SKIP_DIRS}
    if here == PROJECT / "data":
        skipped |= {n for n in names if n not in ("reference", "incoming")}
    if here == PROJECT / "data" / "incoming":
        skipped |= {n for n in names if n != ".gitkeep"}
    return skipped


@dataclass
class LiveStack:
    """A running stack and the calls the tests make against it."""

    stack: Stack

    @property
    def project(self) -> Path:
        return self.stack.project

    @property
    def ui_url(self) -> str:
        return self.stack.ui_url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.stack.api_url, timeout=15.0)

    def run(self, argv: list[str], timeout: float = 180) -> str:
        """A command in the project copy with the stack's environment."""
        done = subprocess.run(
            argv,
            cwd=self.project,
            env=self.stack.child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, (
            f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
        return done.stdout

    def prefect(self, *args: str) -> str:
        return self.run([sys.executable, "-m", "prefect", "--no-prompt", *args])

    def deployment_run(self, name: str, parameters: dict[str, Any]) -> str:
        """`prefect deployment run`, as a user types it; the new run's id."""
        params = json.dumps(parameters)
        out = self.prefect("deployment", "run", name, "--params", params)
        match = re.search(r"UUID: ([0-9a-f-]{36})", out)
        assert match, f"no flow run id in:\n{out}"
        return match.group(1)

    def deployment_id(self, name: str) -> str:
        with self.client() as client:
            response = client.get(f"/deployments/name/{name}")
            response.raise_for_status()
            return response.json()["id"]

    def flow_run(self, run_id: str) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"/flow_runs/{run_id}")
            response.raise_for_status()
            return response.json()

    def wait_final(self, run_id: str, timeout: float = 240) -> dict[str, Any]:
        """Poll the API until the run is in a final state."""
        deadline = time.monotonic() + timeout
        run = self.flow_run(run_id)
        while run["state_type"] not in FINAL_STATES:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"flow run {run['name']} still {run['state_name']} after "
                    f"{timeout:.0f} s\n{self.diagnostics()}"
                )
            time.sleep(1.0)
            run = self.flow_run(run_id)
        return run

    def runs_of(self, deployment: str) -> list[dict[str, Any]]:
        body = {
            "flow_runs": {"deployment_id": {"any_": [self.deployment_id(deployment)]}},
            "sort": "EXPECTED_START_TIME_ASC",
        }
        with self.client() as client:
            response = client.post("/flow_runs/filter", json=body)
            response.raise_for_status()
            return response.json()

    def wait_new_run(
        self, deployment: str, known: set[str], timeout: float = 120
    ) -> dict[str, Any]:
        """The first run of the deployment that is not in `known` (a trigger's)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [r for r in self.runs_of(deployment) if r["id"] not in known]
            if new:
                return new[0]
            time.sleep(1.0)
        pytest.fail(
            f"no new run of {deployment} within {timeout:.0f} s: the trigger did "
            f"not fire\n{self.diagnostics()}"
        )

    def subflow_runs(self, parent_id: str) -> list[dict[str, Any]]:
        body = {"flow_runs": {"parent_flow_run_id": {"any_": [parent_id]}}}
        with self.client() as client:
            response = client.post("/flow_runs/filter", json=body)
            response.raise_for_status()
            return response.json()

    def artifacts(self, run_id: str) -> dict[str, dict[str, Any]]:
        body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
        with self.client() as client:
            response = client.post("/artifacts/filter", json=body)
            response.raise_for_status()
            return {a["key"]: a for a in response.json() if a["key"]}

    def logs(self, run_id: str) -> str:
        body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC"}
        with self.client() as client:
            response = client.post("/logs/filter", json=body)
            response.raise_for_status()
            return "\n".join(entry["message"] for entry in response.json())

    def logs_with(self, run_id: str, *words: str, timeout: float = 60) -> str:
        """The run's logs once they hold every word: a finished run's last
        log lines reach the API a moment after its final state."""
        deadline = time.monotonic() + timeout
        while True:
            logs = self.logs(run_id)
            if all(w in logs for w in words) or time.monotonic() > deadline:
                return logs
            time.sleep(0.5)

    def diagnostics(self) -> str:
        """The end of each component's log, for a failure message."""
        parts = []
        for name in ("server", "worker", "refresh-worker", "watcher", "setup"):
            log = self.stack.log(name)
            if log.exists():
                lines = log.read_text(errors="replace").splitlines()[-30:]
                parts.append(f"--- {log}\n" + "\n".join(lines))
        return "\n".join(parts)


def _kill_leftovers(stack: Stack) -> None:
    """Last resort after `down`: nothing the stack started may outlive the tests."""
    for name in COMPONENTS:
        pid_file = stack.pid_file(name)
        if not pid_file.exists():
            continue
        try:
            proc = psutil.Process(int(pid_file.read_text().strip()))
            for p in [*proc.children(recursive=True), proc]:
                p.kill()
        except (ValueError, psutil.Error):
            pass


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    copy = tmp_path_factory.mktemp("stack") / "project"
    shutil.copytree(PROJECT, copy, ignore=_ignore)
    port = free_port()
    stack = Stack(copy, copy / ".prefect", port)
    script = [sys.executable, "scripts/stack.py"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    up = subprocess.run(
        [*script, "up", "--port", str(port), "--timeout", "180"],
        cwd=copy,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    live = LiveStack(stack)
    try:
        print(up.stdout, up.stderr)
        assert up.returncode == 0, (
            f"stack.py up failed:\n{up.stdout}{up.stderr}\n{live.diagnostics()}"
        )
        yield live
    finally:
        down = subprocess.run(
            [*script, "down", "--port", str(port)],
            cwd=copy,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        print(down.stdout, down.stderr)
        _kill_leftovers(stack)


@pytest.fixture(scope="session")
def chromium() -> Path:
    found = find_chromium()
    if found is None:
        message = "no Chromium: run `python scripts/setup_test_deps.py`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    """A fresh headless Chromium profile driven by Playwright.

    Module scope: Playwright's sync API keeps an event loop running while it is
    open, which would break `asyncio.run` in the tests collected after these.
    """
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="ssa-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where screenshots go: bench/results/ui (git-ignored) or $SSA_SCREENSHOTS."""
    folder = Path(os.environ.get("SSA_SCREENSHOTS", PROJECT / "bench/results/ui"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
