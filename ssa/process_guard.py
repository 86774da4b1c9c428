"""Make a helper process die with the process that started it, however it
dies: ``kill -9`` runs no ``atexit`` and no signal handler.

A small guard process holds the read end of a pipe whose write end only we
hold. When we exit in any way the kernel closes that end; the guard reads
end-of-file and stops the helper (SIGTERM, then SIGKILL). A clean exit says
``done`` first, so the guard leaves the helper to the ordinary shutdown.
This works wherever pipes do, unlike Linux's parent-death signal, and needs
no control over how the helper was started.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import IO

GUARD_SCRIPT = r"""
import os, signal, sys, time
pid, what = int(sys.argv[1]), sys.argv[2]
if sys.stdin.buffer.read() == b"done":
    sys.exit(0)
try:
    os.kill(pid, signal.SIGTERM)
except ProcessLookupError:
    sys.exit(0)
print(f"{what} (pid {pid}) stopped: the process it served is gone",
      file=sys.stderr, flush=True)
for _ in range(50):
    time.sleep(0.1)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(0)
os.kill(pid, signal.SIGKILL)
"""


@dataclass
class Guard:
    """The guard of one helper; ``release()`` on a clean exit."""

    process: subprocess.Popen[bytes]
    pipe: IO[bytes]

    def release(self) -> None:
        """We are exiting cleanly: the helper's own shutdown takes over."""
        try:
            self.pipe.write(b"done")
            self.pipe.close()
        except (BrokenPipeError, ValueError):
            pass
        self.process.wait(timeout=10)


def stop_with_me(pid: int, what: str) -> Guard:
    """Start a guard that stops process ``pid`` once this process is gone.

    The guard has its own session, so the Ctrl-C meant for us does not stop
    it before it has done its job.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", GUARD_SCRIPT, str(pid), what],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdin is not None
    return Guard(process=process, pipe=process.stdin)
