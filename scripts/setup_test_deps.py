"""Install what the test suite needs beyond requirements-dev.txt: a Chromium.

    python scripts/setup_test_deps.py

The integration tests open the Prefect UI in headless Chromium driven by
Playwright, which cannot download its own browser here; Debian's ``chromium``
package is used instead. Where a browser is already present (``$SSA_CHROMIUM``,
``/usr/bin/chromium`` or ``chromium`` on the PATH) this does nothing. As root
on Debian/Ubuntu it runs ``apt-get install chromium``. Anywhere else it says
what to install and leaves the integration tests to skip, except in CI
(``CI=true``), where a missing browser fails the run instead of hiding it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser")


def find_chromium() -> Path | None:
    """The browser the integration tests drive, or None."""
    override = os.environ.get("SSA_CHROMIUM")
    if override:
        path = Path(override)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    debian = Path("/usr/bin/chromium")
    if debian.is_file():
        return debian
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _apt_install() -> int:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "chromium"],
    ):
        print("$", " ".join(argv), flush=True)
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            return done.returncode
    return 0


def main() -> int:
    found = find_chromium()
    if found:
        print(f"chromium: {found}")
        return 0
    can_apt = (
        sys.platform.startswith("linux")
        and shutil.which("apt-get") is not None
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
    )
    if can_apt:
        code = _apt_install()
        found = find_chromium()
        if code == 0 and found:
            print(f"chromium: {found}")
            return 0
        print(f"error: apt-get install chromium failed (exit {code})", file=sys.stderr)
        return 1
    message = (
        "chromium not found: install Debian's `chromium` package "
        "(sudo apt-get install chromium) or set SSA_CHROMIUM to a Chromium binary."
    )
    if os.environ.get("CI"):
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(f"warning: {message} The integration tests will be skipped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
