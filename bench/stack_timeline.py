"""Where a drop's seconds go through the Prefect stack, read back from its API.

After a drop went through the stack, the server holds a timestamp for each
hand-over: the watcher's events (file loaded into Bronze, refresh
requested), the ``on-drop`` run the trigger created, its state changes
(Scheduled by the automation, Pending when picked up, Running when its flow
starts, Completed) and its first and last log lines. Together with the two
moments the benchmark sees itself (the rename into ``incoming/`` and the new
``gold_anomalies.csv``) they give one line per stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

FILE_EVENT = "ssa.incoming.file-ingested"
REFRESH_EVENT = "ssa.incoming.refresh-requested"
DEPLOYMENT = "incoming-refresh/on-drop"
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass(frozen=True)
class Mark:
    """One moment of the drop's way through the stack (epoch seconds)."""

    label: str
    at: float


def _epoch(iso: str) -> float:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def wait_final(api_url: str, renamed_at: float, timeout: float) -> str | None:
    """The final state of the first on-drop run after ``renamed_at``, once it
    has one (the run goes on after the Gold CSV: report, dashboard,
    artifacts); None if it has none within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=api_url, timeout=10.0) as client:
        while time.monotonic() < deadline:
            run = _first_run(client, renamed_at)
            if run is not None and run["state_type"] in FINAL_STATES:
                return run["state_name"]
            time.sleep(0.5)
    return None


def _first_run(client: httpx.Client, renamed_at: float) -> dict[str, Any] | None:
    deployment = client.get(f"/deployments/name/{DEPLOYMENT}")
    deployment.raise_for_status()
    runs = client.post(
        "/flow_runs/filter",
        json={
            "flow_runs": {
                "deployment_id": {"any_": [deployment.json()["id"]]},
                "expected_start_time": {"after_": _iso(renamed_at - 1)},
            },
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": 1,
        },
    )
    runs.raise_for_status()
    return runs.json()[0] if runs.json() else None


def read_marks(api_url: str, renamed_at: float) -> list[Mark]:
    """The server's timestamps for the first on-drop run after ``renamed_at``."""
    with httpx.Client(base_url=api_url, timeout=10.0) as client:
        events = client.post(
            "/events/filter",
            json={
                "filter": {
                    "occurred": {"since": _iso(renamed_at - 1)},
                    "event": {"name": [FILE_EVENT, REFRESH_EVENT]},
                },
                "limit": 50,
            },
        )
        events.raise_for_status()
        first: dict[str, float] = {}
        for event in events.json()["events"]:
            at = _epoch(event["occurred"])
            first[event["event"]] = min(at, first.get(event["event"], at))
        run = _first_run(client, renamed_at)
        marks = [
            Mark(f"watcher: {name.rsplit('.', 1)[-1]} event", at)
            for name, at in sorted(first.items(), key=lambda item: item[1])
        ]
        if run is None:
            return marks
        marks.append(Mark("automation: on-drop run created", _epoch(run["created"])))
        states = client.get("/flow_run_states/", params={"flow_run_id": run["id"]})
        states.raise_for_status()
        for state in sorted(states.json(), key=lambda s: s["timestamp"]):
            if state["type"] == "SCHEDULED":
                continue  # the same moment as the run's creation
            marks.append(Mark(f"run state {state['name']}", _epoch(state["timestamp"])))
        subflows = client.post(
            "/flow_runs/filter",
            json={"flow_runs": {"parent_flow_run_id": {"any_": [run["id"]]}}},
        )
        subflows.raise_for_status()
        for subflow in subflows.json():
            if subflow.get("start_time"):
                started = _epoch(subflow["start_time"])
                marks.append(Mark(f"subflow {subflow['name']} starts", started))
        run_ids = [run["id"], *(s["id"] for s in subflows.json())]
        tasks = client.post(
            "/task_runs/filter",
            json={"task_runs": {"flow_run_id": {"any_": run_ids}}, "limit": 200},
        )
        tasks.raise_for_status()
        for task in tasks.json():
            if task.get("start_time") and task.get("end_time"):
                name = task["name"].rsplit("-", 1)[0]
                marks.append(Mark(f"task {name} ends", _epoch(task["end_time"])))
        logs = client.post(
            "/logs/filter",
            json={
                "logs": {"flow_run_id": {"any_": [run["id"]]}},
                "sort": "TIMESTAMP_ASC",
                "limit": 200,
            },
        )
        logs.raise_for_status()
        for log in logs.json():
            marks.append(Mark(f"log: {log['message'][:60]}", _epoch(log["timestamp"])))
    return sorted(marks, key=lambda mark: mark.at)


def breakdown(marks: list[Mark], renamed_at: float, gold_at: float) -> list[list[str]]:
    """Rows: moment, seconds since the rename, seconds since the previous one."""
    rows = []
    previous = renamed_at
    timeline = [
        Mark("drop renamed into incoming/", renamed_at),
        *marks,
        Mark("gold_anomalies.csv rewritten", gold_at),
    ]
    for mark in sorted(timeline, key=lambda m: m.at):
        rows.append(
            [mark.label, f"{mark.at - renamed_at:6.2f}", f"{mark.at - previous:+6.2f}"]
        )
        previous = mark.at
    return rows
