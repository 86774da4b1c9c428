"""The local Prefect stack in one command: server, pool, deployments, workers, watcher.

    python scripts/stack.py up [--port 4200] [--home PATH] [--no-watcher]
    python scripts/stack.py status
    python scripts/stack.py env        # eval "$(python scripts/stack.py env)"
    python scripts/stack.py down

Everything Prefect keeps for this project (its database, profiles, the logs and
PID files of the processes started here) lives in ``.prefect/`` inside the
project, or in the folder given with ``--home``; a ``PREFECT_HOME`` or
``PREFECT_API_URL`` from the calling shell is ignored, so the user's global
profile is never read or written. Every wait has a timeout and every failure
says what to look at; ``up`` undoes what it started when a step fails, and
``down`` stops each process tree it started (SIGTERM, a grace period, then
SIGKILL), so nothing is left running.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_PORT = 4200
POOL = "ssa-local"
WORKER_NAME = "ssa-local-worker"
# Two queues in the one pool, so its concurrency limit covers both: the
# process worker takes `default` (a new process per run), the warm worker
# (flows/warm_worker.py) takes `refresh`, the on-drop refresh, and runs it in
# its already-started process: no interpreter to start, nothing to import.
PROCESS_QUEUE = "default"
WARM_QUEUE = "refresh"
WARM_WORKER_NAME = "ssa-refresh-worker"
WARM_WORKER_MODULE = "flows.warm_worker"
DEPLOYMENTS = (
    "medallion-pipeline/daily",
    "incoming-refresh/on-drop",
    "train-risk-model/train",
    "live-simulation/live",
    "silver-gold-rebuild/rebuild",
)
WATCHER_MODULE = "flows.watcher"
# The Prefect CLI of the interpreter running this script (the project venv).
PREFECT = (sys.executable, "-m", "prefect")
# Shutdown order: stop what produces work first, the server last.
COMPONENTS = ("watcher", "refresh-worker", "worker", "server")


class StackError(RuntimeError):
    """A step of the stack failed; the message says what and where to look."""


@dataclass(frozen=True)
class Stack:
    """Where this project's stack keeps its state, and how its children run."""

    project: Path
    home: Path
    port: int

    @property
    def run_dir(self) -> Path:
        return self.home / "stack"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    def log(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def prefect_env(self) -> dict[str, str]:
        """The Prefect settings every child gets, whatever the caller's shell says."""
        return {
            "PREFECT_HOME": str(self.home),
            "PREFECT_PROFILES_PATH": str(self.home / "profiles.toml"),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_UI_URL": self.ui_url,
            "PREFECT_UI_API_URL": self.api_url,
            "PREFECT_SERVER_API_HOST": HOST,
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }

    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(self.prefect_env())
        # prefect.yaml's pull step reads {{ $PWD }} at deploy time.
        env["PWD"] = str(self.project)
        env["PYTHONUNBUFFERED"] = "1"
        return env


# -- processes ---------------------------------------------------------------


def _say(message: str) -> None:
    print(message, flush=True)


def tail(path: Path, lines: int = 25) -> str:
    """The end of a log, indented, for an error message."""
    if not path.exists():
        return f"    ({path} does not exist)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text) or "    (empty)"


def spawn(stack: Stack, name: str, argv: list[str]) -> psutil.Process:
    """Start one component in its own session, logging to <run_dir>/<name>.log.

    Each `up` starts the logs afresh, so the end of a log is about this run.
    """
    stack.run_dir.mkdir(parents=True, exist_ok=True)
    log = stack.log(name).open("wb")
    log.write(f"--- {datetime.now(UTC).isoformat()} {' '.join(argv)}\n".encode())
    log.flush()
    extra: dict[str, Any] = (
        {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        if sys.platform == "win32"
        else {"start_new_session": True}
    )
    popen = subprocess.Popen(
        argv,
        cwd=stack.project,
        env=stack.child_env(),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        **extra,
    )
    log.close()
    stack.pid_file(name).write_text(f"{popen.pid}\n", encoding="utf-8")
    proc = psutil.Process(popen.pid)
    _record(stack, name, proc, argv)
    return proc


def _read_state(stack: Stack) -> dict[str, Any]:
    if not stack.state_file.exists():
        return {}
    try:
        return json.loads(stack.state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _record(stack: Stack, name: str, proc: psutil.Process, argv: list[str]) -> None:
    state = _read_state(stack)
    state.update(
        port=stack.port,
        project=str(stack.project),
        home=str(stack.home),
        api_url=stack.api_url,
        ui_url=stack.ui_url,
    )
    state.setdefault("processes", {})[name] = {
        "pid": proc.pid,
        "create_time": proc.create_time(),
        "argv": argv,
        "log": str(stack.log(name)),
    }
    stack.state_file.write_text(json.dumps(state, indent=2), encoding="utf-8")


def running(stack: Stack, name: str) -> psutil.Process | None:
    """The live process recorded for a component; a reused PID does not count."""
    pid_file = stack.pid_file(name)
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except (ValueError, OSError, psutil.Error):
        return None
    recorded = _read_state(stack).get("processes", {}).get(name, {})
    created = recorded.get("create_time")
    if created is not None and abs(proc.create_time() - created) > 1.0:
        return None  # the PID now belongs to someone else
    return proc


def stop(stack: Stack, name: str, grace: float) -> str:
    """SIGTERM the component and everything it started, then SIGKILL stragglers."""
    proc = running(stack, name)
    outcome = "not running"
    if proc is not None:
        try:
            tree = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            tree = [proc]
        for p in tree:
            with contextlib.suppress(psutil.Error):
                p.terminate()
        _, alive = psutil.wait_procs(tree, timeout=grace)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=5)
        outcome = (
            f"stopped (pid {proc.pid})"
            if not alive
            else f"killed after {grace:.0f} s (pid {proc.pid}, "
            f"{len(alive)} process(es) ignored SIGTERM)"
        )
    stack.pid_file(name).unlink(missing_ok=True)
    state = _read_state(stack)
    state.get("processes", {}).pop(name, None)
    if state.get("processes"):
        stack.state_file.write_text(json.dumps(state, indent=2), encoding="utf-8")
    else:
        stack.state_file.unlink(missing_ok=True)
    return outcome


def wait_for(
    what: str,
    ready: Callable[[], bool],
    proc: psutil.Process,
    log: Path,
    timeout: float,
    interval: float = 0.5,
) -> None:
    """Poll until ready; fail at once if the process dies, or at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
            raise StackError(f"{what}: the process exited. End of {log}:\n{tail(log)}")
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    raise StackError(
        f"{what}: not ready after {timeout:.0f} s (raise --timeout on a slow "
        f"machine). End of {log}:\n{tail(log)}"
    )


# -- checks ------------------------------------------------------------------


def port_owner(port: int) -> str:
    """Who listens on the port, when the OS lets us see it."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if (
                conn.laddr
                and conn.laddr.port == port
                and conn.status == psutil.CONN_LISTEN
                and conn.pid
            ):
                proc = psutil.Process(conn.pid)
                cmd = " ".join(proc.cmdline())[:120]
                return f" by pid {conn.pid} ({cmd})"
    except (psutil.Error, OSError):
        pass
    return ""


def free_port() -> int:
    """A loopback port nobody listens on now (for a second stack beside one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def check_port_free(port: int) -> None:
    """Refuse early, naming the port and its owner, rather than fail in the server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise StackError(
                f"port {port} on {HOST} is already in use{port_owner(port)} "
                f"({exc.strerror}). Stop that process, or choose another port: "
                f"python scripts/stack.py up --port {port + 1}"
            ) from None


def api(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, timeout=10.0)


def server_healthy(stack: Stack) -> bool:
    with api(stack) as client:
        return client.get("/health").status_code == 200


def worker_online(
    stack: Stack, since: float | None = None, name: str = WORKER_NAME
) -> bool:
    """The named worker has sent a heartbeat (after `since`, when given)."""
    with api(stack) as client:
        response = client.post(f"/work_pools/{POOL}/workers/filter", json={})
        if response.status_code != 200:
            return False
        for worker in response.json():
            if worker["name"] != name or worker.get("status") != "ONLINE":
                continue
            beat = worker.get("last_heartbeat_time")
            if since is None or (
                beat and datetime.fromisoformat(beat).timestamp() >= since - 1
            ):
                return True
    return False


def run_cli(stack: Stack, args: list[str], timeout: float, what: str) -> str:
    """Run a `prefect` command against the stack; its output goes to the log."""
    argv = [*PREFECT, "--no-prompt", *args]
    try:
        done = subprocess.run(
            argv,
            cwd=stack.project,
            env=stack.child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise StackError(
            f"{what}: `prefect {' '.join(args)}` took over {timeout:.0f} s"
        ) from None
    with stack.log("setup").open("a", encoding="utf-8") as log:
        log.write(f"\n$ prefect {' '.join(args)}\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()[-25:]
        raise StackError(
            f"{what}: `prefect {' '.join(args)}` failed (exit {done.returncode}):\n"
            + "\n".join(f"    {line}" for line in output)
        )
    return done.stdout


# -- commands ----------------------------------------------------------------


def ensure_pool(stack: Stack, timeout: float) -> None:
    """A `process` pool, limited to one run at a time: one SQLite warehouse, one
    writer, so a daily run and a refresh never hold the file at once."""
    with api(stack) as client:
        exists = client.get(f"/work_pools/{POOL}").status_code == 200
    if not exists:
        run_cli(
            stack,
            ["work-pool", "create", POOL, "--type", "process"],
            timeout,
            "creating the work pool",
        )
    with api(stack) as client:
        response = client.patch(f"/work_pools/{POOL}", json={"concurrency_limit": 1})
        if response.status_code >= 400:
            raise StackError(
                f"setting the concurrency limit of pool {POOL!r}: "
                f"HTTP {response.status_code} {response.text[:300]}"
            )
        if client.get(f"/work_pools/{POOL}/queues/{WARM_QUEUE}").status_code == 404:
            response = client.post(
                f"/work_pools/{POOL}/queues/",
                json={
                    "name": WARM_QUEUE,
                    "description": "The refresh after a drop, run by the warm "
                    f"worker {WARM_WORKER_NAME!r} in its own started process.",
                },
            )
            if response.status_code >= 400:
                raise StackError(
                    f"creating queue {WARM_QUEUE!r} in pool {POOL!r}: "
                    f"HTTP {response.status_code} {response.text[:300]}"
                )


def schedule_states(stack: Stack) -> dict[tuple[str, str], bool]:
    """(deployment, schedule slug) -> active, for deployments already on the server."""
    states: dict[tuple[str, str], bool] = {}
    with api(stack) as client:
        for name in DEPLOYMENTS:
            response = client.get(f"/deployments/name/{name}")
            if response.status_code != 200:
                continue
            for schedule in response.json().get("schedules", []):
                if schedule.get("slug"):
                    states[(name, schedule["slug"])] = schedule["active"]
    return states


def restore_schedules(stack: Stack, before: dict[tuple[str, str], bool]) -> list[str]:
    """Put back the on/off a user chose: prefect.yaml only sets the first state.

    Without this, `up` after a user turned the daily schedule on in the UI would
    silently turn it off again (deploy applies `active: false` from the file).
    """
    kept = []
    with api(stack) as client:
        for name in DEPLOYMENTS:
            deployment = client.get(f"/deployments/name/{name}").json()
            for schedule in deployment.get("schedules", []):
                wanted = before.get((name, schedule.get("slug") or ""))
                if wanted is None or wanted == schedule["active"]:
                    continue
                client.patch(
                    f"/deployments/{deployment['id']}/schedules/{schedule['id']}",
                    json={"active": wanted},
                ).raise_for_status()
                state = "on" if wanted else "off"
                kept.append(f"{name} schedule {schedule['slug']} kept {state}")
    return kept


def check_deployments(stack: Stack) -> list[str]:
    found = []
    with api(stack) as client:
        for name in DEPLOYMENTS:
            response = client.get(f"/deployments/name/{name}")
            if response.status_code != 200:
                raise StackError(f"deployment {name!r} is missing after deploy")
            found.append(f"{name} ({response.json()['id']})")
    return found


ALERT_BLOCK_NAME = "ssa-failure-alerts"


def automations_from_file(project: Path) -> list[dict[str, Any]]:
    """The `automations:` of prefect.yaml, as written there."""
    import yaml

    config = yaml.safe_load((project / "prefect.yaml").read_text(encoding="utf-8"))
    return list(config.get("automations") or [])


def resolve_blocks(
    automation: dict[str, Any], block_ids: dict[str, str]
) -> dict[str, Any] | None:
    """The automation with each notification block's name replaced by its id,
    or None when a block it names does not exist (yet)."""
    actions = []
    for action in automation["actions"]:
        name = action.get("block_document_id")
        if action.get("type") == "send-notification":
            if name not in block_ids:
                return None
            action = {**action, "block_document_id": block_ids[name]}
        actions.append(action)
    return {**automation, "actions": actions}


def ensure_automations(stack: Stack) -> list[str]:
    """Create (or replace) prefect.yaml's automations; one line each."""
    said = []
    with api(stack) as client:
        for automation in automations_from_file(stack.project):
            names = {
                a.get("block_document_id")
                for a in automation["actions"]
                if a.get("type") == "send-notification"
            }
            found = client.post(
                "/block_documents/filter",
                json={"block_documents": {"name": {"any_": sorted(names)}}},
            ).json()
            resolved = resolve_blocks(automation, {b["name"]: b["id"] for b in found})
            if resolved is None:
                said.append(
                    f"{automation['name']}: off until a notification block named "
                    f"{ALERT_BLOCK_NAME!r} exists (UI: Blocks, Slack/Teams/e-mail/"
                    "webhook), then `stack.py up` again"
                )
                continue
            old = client.post(
                "/automations/filter",
                json={"automations": {"name": {"any_": [automation["name"]]}}},
            ).json()
            for existing in old:
                client.delete(f"/automations/{existing['id']}")
            response = client.post("/automations/", json=resolved)
            if response.status_code >= 400:
                raise StackError(
                    f"automation {automation['name']!r} refused by the server: "
                    f"{response.text[:500]}"
                )
            said.append(f"{automation['name']}: on ({response.json()['id']})")
    return said


def up(stack: Stack, timeout: float, watcher: bool) -> int:
    for name in COMPONENTS:
        proc = running(stack, name)
        if proc is not None:
            raise StackError(
                f"the stack is already running ({name} pid {proc.pid}, "
                f"{_read_state(stack).get('ui_url', '?')}); "
                "`python scripts/stack.py down` first"
            )
    check_port_free(stack.port)
    stack.run_dir.mkdir(parents=True, exist_ok=True)
    stack.log("setup").unlink(missing_ok=True)
    ignored = [k for k in ("PREFECT_HOME", "PREFECT_API_URL") if k in os.environ]
    if ignored:
        _say(f"note: ignoring {', '.join(ignored)} from the environment")
    _say(f"Prefect home: {stack.home}")
    started = time.monotonic()
    try:
        server = spawn(
            stack,
            "server",
            [*PREFECT, "server", "start", "--host", HOST, "--port", str(stack.port)],
        )
        wait_for(
            f"Prefect server on {stack.ui_url}",
            lambda: server_healthy(stack),
            server,
            stack.log("server"),
            timeout,
        )
        _say(f"server   up    {stack.ui_url} (pid {server.pid})")
        ensure_pool(stack, timeout)
        _say(
            f"pool     ready {POOL} (process, concurrency limit 1; queues "
            f"{PROCESS_QUEUE}, {WARM_QUEUE})"
        )
        schedules = schedule_states(stack)
        run_cli(stack, ["deploy", "--all"], timeout, "deploying prefect.yaml")
        for found in check_deployments(stack):
            _say(f"deployed       {found}")
        for kept in restore_schedules(stack, schedules):
            _say(f"               {kept} (as set in the UI)")
        for line in ensure_automations(stack):
            _say(f"automation     {line}")
        since = time.time()
        worker = spawn(
            stack,
            "worker",
            [
                *PREFECT,
                "worker",
                "start",
                "--pool",
                POOL,
                "--work-queue",
                PROCESS_QUEUE,
                "--name",
                WORKER_NAME,
            ],
        )
        warm = spawn(
            stack,
            "refresh-worker",
            [
                sys.executable,
                "-m",
                WARM_WORKER_MODULE,
                "--pool",
                POOL,
                "--queue",
                WARM_QUEUE,
                "--name",
                WARM_WORKER_NAME,
            ],
        )
        for name, proc, component in (
            (WORKER_NAME, worker, "worker"),
            (WARM_WORKER_NAME, warm, "refresh-worker"),
        ):
            wait_for(
                f"worker {name!r} in pool {POOL!r}",
                lambda name=name: worker_online(stack, since, name),
                proc,
                stack.log(component),
                timeout,
            )
        _say(f"worker   up    {WORKER_NAME}, queue {PROCESS_QUEUE} (pid {worker.pid})")
        _say(
            f"worker   up    {WARM_WORKER_NAME}, queue {WARM_QUEUE}, runs in its "
            f"own process (pid {warm.pid})"
        )
        if watcher:
            start_watcher(stack)
    except BaseException as exc:
        for name in COMPONENTS:
            stop(stack, name, grace=10)
        if isinstance(exc, KeyboardInterrupt):
            raise StackError("interrupted; everything started was stopped") from None
        raise
    _say(
        f"\nStack up in {time.monotonic() - started:.0f} s. Open {stack.ui_url}\n"
        f'  run:   eval "$({_cli("python")} scripts/stack.py env)" && '
        f"{_cli('prefect')} deployment run 'medallion-pipeline/daily'\n"
        f"  logs:  {stack.run_dir}/*.log\n"
        f"  stop:  {_cli('python')} scripts/stack.py down"
    )
    return 0


def start_watcher(stack: Stack) -> None:
    watcher = spawn(
        stack,
        "watcher",
        [sys.executable, "-m", WATCHER_MODULE, "--mode", "prefect"],
    )
    time.sleep(2.0)  # an argument or import error shows up at once
    if not watcher.is_running() or watcher.status() == psutil.STATUS_ZOMBIE:
        raise StackError(
            f"the watcher exited at start. End of {stack.log('watcher')}:\n"
            f"{tail(stack.log('watcher'))}"
        )
    _say(f"watcher  up    {WATCHER_MODULE} --mode prefect (pid {watcher.pid})")


def down(stack: Stack, grace: float) -> int:
    if not any(stack.pid_file(name).exists() for name in COMPONENTS):
        _say(f"nothing to stop: no stack recorded in {stack.run_dir}")
        return 0
    for name in COMPONENTS:
        _say(f"{name:<14} {stop(stack, name, grace)}")
    return 0


def status(stack: Stack) -> int:
    state = _read_state(stack)
    port = state.get("port", stack.port)
    stack = Stack(stack.project, stack.home, port)
    procs = {name: running(stack, name) for name in COMPONENTS}
    if not any(procs.values()):
        _say(f"stack is down (state in {stack.run_dir})")
        return 3
    healthy = False
    with contextlib.suppress(httpx.HTTPError):
        healthy = server_healthy(stack)
    notes = {
        "server": f"{stack.ui_url} API {'healthy' if healthy else 'NOT answering'}",
        "worker": "",
        "refresh-worker": "",
        "watcher": "",
    }
    if healthy:
        for component, name, queue in (
            ("worker", WORKER_NAME, PROCESS_QUEUE),
            ("refresh-worker", WARM_WORKER_NAME, WARM_QUEUE),
        ):
            notes[component] = (
                f"online in pool {POOL}, queue {queue}"
                if worker_online(stack, name=name)
                else f"NOT online in pool {POOL}: runs in queue {queue} will "
                "wait in Scheduled"
            )
    ok = healthy and all(procs[n] is not None for n in ("worker", "refresh-worker"))
    for name in reversed(COMPONENTS):
        proc = procs[name]
        where = f"pid {proc.pid}" if proc else "not running"
        _say(f"{name:<14} {where:<12} {notes[name]}".rstrip())
    return 0 if ok else 1


def _cli(name: str) -> str:
    """A command of this interpreter's environment as a user types it: the
    README never activates the venv, so a bare `prefect` is not on PATH."""
    path = Path(sys.executable).with_name(name)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def env(stack: Stack) -> int:
    state = _read_state(stack)
    stack = Stack(stack.project, stack.home, state.get("port", stack.port))
    for key, value in stack.prefect_env().items():
        _say(f"export {key}={value}")
    return 0


def parse(argv: list[str]) -> tuple[argparse.Namespace, Stack]:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SSA_PREFECT_PORT", DEFAULT_PORT)),
        help="server port on 127.0.0.1 (default 4200, or $SSA_PREFECT_PORT)",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(os.environ.get("SSA_PREFECT_HOME", PROJECT_DIR / ".prefect")),
        help="Prefect state folder (default .prefect in the project, "
        "or $SSA_PREFECT_HOME)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds to wait for each step of `up` (default 120)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=15.0,
        help="seconds `down` waits after SIGTERM before SIGKILL (default 15)",
    )
    parser.add_argument(
        "--no-watcher",
        action="store_true",
        help="do not start the watcher (drops will not trigger refreshes)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be 1-65535, got {args.port}")
    home = args.home if args.home.is_absolute() else Path.cwd() / args.home
    return args, Stack(PROJECT_DIR, home.resolve(), args.port)


def main(argv: list[str] | None = None) -> int:
    args, stack = parse(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "up":
            return up(stack, args.timeout, watcher=not args.no_watcher)
        if args.command == "down":
            return down(stack, args.grace)
        if args.command == "status":
            return status(stack)
        return env(stack)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
