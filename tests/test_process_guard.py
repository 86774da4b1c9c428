"""A helper process stops with the process that guards it, even on kill -9,
and is left alone on a clean exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from ssa.settings import REPO_ROOT
from tests.drops import wait_for

PARENT = """
import subprocess, sys, time
from ssa.process_guard import stop_with_me
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
guard = stop_with_me(helper.pid, "test helper")
print(helper.pid, flush=True)
if sys.argv[1] == "clean":
    guard.release()
    sys.exit(0)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of a dead parent may linger as a zombie until init reaps it.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def start_parent(mode: str) -> tuple[subprocess.Popen[str], int]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


@pytest.mark.skipif(not os.path.exists("/proc"), reason="reads /proc")
def test_the_helper_stops_when_its_process_is_killed_with_kill_9() -> None:
    parent, helper = start_parent("hang")
    try:
        assert alive(helper)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        wait_for(lambda: not alive(helper), timeout=30)
    finally:
        if alive(helper):
            os.kill(helper, signal.SIGKILL)


@pytest.mark.skipif(not os.path.exists("/proc"), reason="reads /proc")
def test_a_clean_exit_leaves_the_helper_to_its_own_shutdown() -> None:
    parent, helper = start_parent("clean")
    try:
        assert parent.wait(timeout=30) == 0
        assert alive(helper)
    finally:
        os.kill(helper, signal.SIGKILL)
