"""Install what the test suite needs beyond requirements-dev.txt: a Chromium
and a Java 17+ runtime.

    python scripts/setup_test_deps.py

The integration tests open the Prefect UI in headless Chromium driven by
Playwright, which cannot download its own browser here; Debian's ``chromium``
package is used instead. The Spark engine's local Spark Connect server
(ssa/engines/spark_server.py) is a JVM: Spark 4 runs on Java 17 or later, Debian's
``openjdk-17-jre-headless``. Where each is already present (``$SSA_CHROMIUM``,
``/usr/bin/chromium`` or ``chromium`` on the PATH; ``java`` in
``$JAVA_HOME/bin`` or on the PATH, version 17+) this does nothing. As root on
Debian/Ubuntu it runs ``apt-get install`` for what is missing. Anywhere else
it says what to install and leaves those tests to skip, except in CI
(``CI=true``), where anything missing fails the run instead of hiding it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# Run as a script, the project root is not on the path; the Java check is
# the Spark server's own.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ssa.engines.spark_server import MIN_JAVA, java_binary, java_version

CANDIDATES = ("chromium", "chromium-browser")
JAVA_PACKAGE = "openjdk-17-jre-headless"


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


def find_java() -> str | None:
    """A Java the local Spark server can run on, or None."""
    binary = java_binary()
    version = java_version(binary)  # the server checks the same at start
    return binary if version is not None and version >= MIN_JAVA else None


def _apt_install(packages: list[str]) -> int:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *packages],
    ):
        print("$", " ".join(argv), flush=True)
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            return done.returncode
    return 0


# What each test dependency is: how to find it, its Debian package, and
# what to tell a person who installs it by hand.
NEEDS = {
    "chromium": (
        find_chromium,
        "chromium",
        "install Debian's `chromium` package (sudo apt-get install chromium) or "
        "set SSA_CHROMIUM to a Chromium binary. The integration tests will be "
        "skipped.",
    ),
    "java": (
        find_java,
        JAVA_PACKAGE,
        f"install Java {MIN_JAVA}+ (sudo apt-get install {JAVA_PACKAGE}) or "
        "point JAVA_HOME at one. The Spark engine's tests will be skipped.",
    ),
}


def main() -> int:
    missing = []
    for name, (find, _, _) in NEEDS.items():
        found = find()
        if found:
            print(f"{name}: {found}")
        else:
            missing.append(name)
    if not missing:
        return 0
    can_apt = (
        sys.platform.startswith("linux")
        and shutil.which("apt-get") is not None
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
    )
    if can_apt:
        packages = [NEEDS[name][1] for name in missing]
        code = _apt_install(packages)
        still = [name for name in missing if not NEEDS[name][0]()]
        for name in missing:
            if name not in still:
                print(f"{name}: {NEEDS[name][0]()}")
        if code == 0 and not still:
            return 0
        print(
            f"error: apt-get install {' '.join(packages)} failed (exit {code}); "
            f"still missing: {', '.join(still)}",
            file=sys.stderr,
        )
        return 1
    for name in missing:
        message = f"{name} not found: {NEEDS[name][2]}"
        if os.environ.get("CI"):
            print(f"error: {message}", file=sys.stderr)
        else:
            print(f"warning: {message}")
    return 1 if os.environ.get("CI") else 0


if __name__ == "__main__":
    raise SystemExit(main())
