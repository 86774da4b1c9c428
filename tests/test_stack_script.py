"""scripts/stack.py without a Prefect server: the checks and the process handling
that decide whether `up` and `down` leave a clean machine."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from scripts import setup_test_deps, stack
from scripts.stack import Stack, StackError


@pytest.fixture
def tmp_stack(tmp_path: Path) -> Stack:
    return Stack(tmp_path, tmp_path / ".prefect", 4200)


def test_a_port_in_use_is_refused_with_its_number() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(StackError, match=rf"port {port} on 127.0.0.1 is already"):
            stack.check_port_free(port)


def test_children_get_the_project_prefect_state_not_the_callers(
    tmp_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "https://api.prefect.cloud/api/x")
    monkeypatch.setenv("PREFECT_PROFILE", "someone-elses")
    env = tmp_stack.child_env()
    assert env["PREFECT_HOME"] == str(tmp_stack.home)
    assert env["PREFECT_PROFILES_PATH"] == str(tmp_stack.home / "profiles.toml")
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"
    assert env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4200/api"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert "PREFECT_PROFILE" not in env
    assert env["PWD"] == str(tmp_stack.project)


def test_down_with_nothing_started_says_so(
    tmp_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.down(tmp_stack, grace=1) == 0
    assert "nothing to stop" in capsys.readouterr().out


def test_a_stale_or_reused_pid_is_not_taken_for_the_stack(tmp_stack: Stack) -> None:
    tmp_stack.run_dir.mkdir(parents=True)
    tmp_stack.pid_file("worker").write_text("not a pid\n")
    assert stack.running(tmp_stack, "worker") is None
    # Our own PID is alive, but the state file says it was created at epoch 0.
    tmp_stack.pid_file("server").write_text(f"{psutil.Process().pid}\n")
    tmp_stack.state_file.write_text(
        '{"processes": {"server": {"pid": 1, "create_time": 0}}}'
    )
    assert stack.running(tmp_stack, "server") is None


def test_stop_ends_the_process_and_its_children(tmp_stack: Stack) -> None:
    # A parent that starts a child and then ignores SIGTERM, as a busy worker may.
    code = (
        "import signal, subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "time.sleep(600)"
    )
    proc = stack.spawn(tmp_stack, "worker", [sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not proc.children() and time.monotonic() < deadline:
        time.sleep(0.1)
    tree = [proc, *proc.children(recursive=True)]
    assert len(tree) == 2
    outcome = stack.stop(tmp_stack, "worker", grace=1)
    assert "killed after 1 s" in outcome
    assert not [p for p in tree if p.is_running() and p.status() != "zombie"]
    assert not tmp_stack.pid_file("worker").exists()
    assert not tmp_stack.state_file.exists()


def test_a_process_that_dies_while_starting_fails_at_once_with_its_log(
    tmp_stack: Stack,
) -> None:
    code = "import sys; print('boom: bad config'); sys.exit(3)"
    proc = stack.spawn(tmp_stack, "server", [sys.executable, "-c", code])
    started = time.monotonic()
    with pytest.raises(StackError, match="the process exited") as error:
        stack.wait_for("server", lambda: False, proc, tmp_stack.log("server"), 60)
    assert "boom: bad config" in str(error.value)
    assert time.monotonic() - started < 30
    stack.stop(tmp_stack, "server", grace=1)


def test_a_step_that_never_gets_ready_times_out(tmp_stack: Stack) -> None:
    code = "import time; time.sleep(600)"
    proc = stack.spawn(tmp_stack, "server", [sys.executable, "-c", code])
    try:
        with pytest.raises(StackError, match=r"not ready after 1 s"):
            stack.wait_for("server", lambda: False, proc, tmp_stack.log("server"), 1)
    finally:
        stack.stop(tmp_stack, "server", grace=1)


def test_port_and_home_options(tmp_path: Path) -> None:
    _, parsed = stack.parse(["up", "--port", "4321", "--home", str(tmp_path)])
    assert (parsed.port, parsed.home) == (4321, tmp_path.resolve())
    _, default = stack.parse(["status"])
    assert default.home == stack.PROJECT_DIR / ".prefect"
    with pytest.raises(SystemExit):
        stack.parse(["up", "--port", "70000"])


def test_setup_finds_the_browser_named_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SSA_CHROMIUM", str(fake))
    assert setup_test_deps.find_chromium() == fake
    monkeypatch.setenv("SSA_CHROMIUM", str(tmp_path / "missing"))
    assert setup_test_deps.find_chromium() is None


def test_the_cli_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        argv = ["scripts/stack.py", "up", "--port", str(port), "--home", str(tmp_path)]
        done = subprocess.run(
            [sys.executable, *argv],
            cwd=stack.PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"error: port {port}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("reported", "usable"),
    [
        ('openjdk version "17.0.15" 2025-04-15', True),
        ('java version "1.8.0_392"', False),
    ],
)
def test_setup_wants_java_17_or_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reported: str, usable: bool
) -> None:
    """Spark 4's local server needs Java 17+: an older one counts as missing."""
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text(f"#!/bin/sh\necho '{reported}' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert setup_test_deps.find_java() == (str(java) if usable else None)
