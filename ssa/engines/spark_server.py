"""A local Spark Connect server, started from the installed pyspark package.

Why the project starts one itself: ``engine = "spark"`` without a
``spark_remote`` should work on a laptop as the embedded engines do, with
nothing to install beyond the pinned ``pyspark[connect]`` (whose package
carries the Connect server jar) and a Java 17+ runtime
(``scripts/setup_test_deps.py``). The client then talks to it exactly as it
would to a cluster, so the same code path runs locally, in the tests and on
a cluster.

The server is ``spark-submit`` of ``SparkConnectServer`` in the foreground
(the launcher ``exec``s the JVM, so the child is the JVM itself), on a free
loopback port, ``local[N]``, with its warehouse and scratch folders in the
data folder. It stops with ``stop()``, at interpreter exit, and, through
``process_guard``, when the Python process is killed outright.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ssa import process_guard

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
# The oldest Java Spark 4 runs on.
MIN_JAVA = 17


class SparkServerError(RuntimeError):
    """The local server could not start; the message says why and where its
    log is."""


def spark_home() -> Path:
    """The installed pyspark package: its bin/ and jars/ are a Spark
    distribution."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def java_version(java: str | None = None) -> int | None:
    """The major version of the Java on the PATH (or ``$JAVA_HOME``), or None."""
    binary = java or java_binary()
    if binary is None:
        return None
    try:
        done = subprocess.run(
            [binary, "-version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (done.stderr + done.stdout).splitlines():
        if "version" in line and '"' in line:
            number = line.split('"')[1]
            head = number.split(".")[0]
            if head == "1":  # 1.8.0_x
                head = number.split(".")[1]
            return int(head) if head.isdigit() else None
    return None


def java_binary() -> str | None:
    """``$JAVA_HOME/bin/java``, else ``java`` on the PATH, else None."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def free_port() -> int:
    """A loopback port nobody listens on now (the server binds it a few
    seconds later; another process taking it meanwhile fails the start
    loudly, not silently)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalSparkServer:
    """One Spark Connect server process serving this Python process; its
    size and patience come from ``engines.spark_local`` (SparkLocalSettings)."""

    folder: Path
    cores: int
    driver_memory: str
    start_timeout_seconds: float
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _guard: process_guard.Guard | None = field(default=None, repr=False)
    # Set by ``stop``: a server stopped on purpose will not answer again either.
    stopped: bool = False

    @property
    def remote(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    @property
    def warehouse_dir(self) -> Path:
        """Spark's warehouse: one folder per table."""
        return self.folder / "tables"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def start(self) -> LocalSparkServer:
        """Start the JVM and wait until it answers a query."""
        version = java_version()
        if version is None or version < MIN_JAVA:
            raise SparkServerError(
                f"engine=spark with no spark_remote starts a local Spark Connect "
                f"server, which needs Java {MIN_JAVA}+ "
                f"({'none found' if version is None else f'found Java {version}'}): "
                "run `python scripts/setup_test_deps.py` (Debian's "
                "openjdk-17-jre-headless), or set spark_remote to a cluster"
            )
        self.warehouse_dir.mkdir(parents=True, exist_ok=True)
        scratch = self.folder / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        home = spark_home()
        conf = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.sql.warehouse.dir": str(self.warehouse_dir),
            "spark.sql.catalogImplementation": "in-memory",
            "spark.local.dir": str(scratch),
            "spark.ui.enabled": "false",
            "spark.driver.memory": self.driver_memory,
            "spark.sql.session.timeZone": "UTC",
            # A laptop's dataset is a few hundred MB: Spark's default of 200
            # shuffle partitions makes 200 tiny tasks per window sort.
            "spark.sql.shuffle.partitions": str(max(4, 2 * self.cores)),
            # Tables are folders under the warehouse, re-registered after a
            # restart (spark_warehouse.py): a rebuild writes over its folder.
            "spark.sql.legacy.allowNonEmptyLocationInCTAS": "true",
        }
        argv = [str(home / "bin" / "spark-submit"), "--class", SERVER_CLASS]
        # A JVM that ran out of heap is in no state to trust: a thread that
        # dies of it (Spark's SQL listener did) can leave the server
        # answering while the query it serves never ends. Exiting makes it
        # a stopped server, which the client hears of (``retry_policy``) and
        # the next run restarts.
        argv += ["--driver-java-options", "-XX:+ExitOnOutOfMemoryError"]
        argv += ["--master", f"local[{self.cores}]", "--name", "ssa-spark-connect"]
        for key, value in conf.items():
            argv += ["--conf", f"{key}={value}"]
        env = {
            **os.environ,
            "SPARK_HOME": str(home),
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
        env.pop("SPARK_REMOTE", None)
        began = time.monotonic()
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                argv,
                env=env,
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self._guard = process_guard.stop_with_me(
            self.process.pid, "local Spark Connect server"
        )
        atexit.register(self.stop)
        try:
            self._wait_until_ready(began)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self, began: float) -> None:
        """Poll the port, then run one query: the gRPC port opens before the
        session behind it is ready."""
        from pyspark.sql import SparkSession

        assert self.process is not None
        while True:
            if self.process.poll() is not None:
                raise SparkServerError(
                    f"the local Spark Connect server exited with code "
                    f"{self.process.returncode} while starting: see {self.log_path}"
                    f"\n{_tail(self.log_path)}"
                )
            if time.monotonic() - began > self.start_timeout_seconds:
                raise SparkServerError(
                    f"the local Spark Connect server did not answer within "
                    f"{self.start_timeout_seconds:.0f} s: see {self.log_path}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.25)
        session = SparkSession.builder.remote(self.remote).create()
        try:
            session.sql("select 1").collect()
        finally:
            session.stop()

    def stop(self) -> None:
        """Stop the JVM (SIGTERM runs Spark's shutdown hooks; SIGKILL after
        30 s) and its guard. Safe to call twice."""
        process, self.process = self.process, None
        self.stopped = self.stopped or process is not None
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=10)
        guard, self._guard = self._guard, None
        if guard is not None:
            guard.release()

    def exited(self) -> str | None:
        """Why the server is gone, with its log's tail; None while it runs
        (or before it started)."""
        process = self.process
        if process is None:
            if self.stopped:
                return f"the local Spark Connect server was stopped ({self.log_path})"
            return None
        if process.poll() is None:
            return None
        tail = _tail(self.log_path)
        hint = ""
        if "OutOfMemoryError" in tail:
            hint = (
                f" after running out of its {self.driver_memory} heap (raise "
                "engines.spark_local.driver_memory)"
            )
        return (
            f"the local Spark Connect server exited with code "
            f"{process.returncode}{hint}: see {self.log_path}\n{tail}"
        )

    def retry_policy(self) -> object:
        """The client's retry policy for this server: Spark's own, except
        that it gives up at once once the server process has exited or was
        stopped. Spark's policy retries an unreachable server for ten
        minutes, as a cluster behind a network may come back; this server
        will not, and the run would wait that long with nothing said (or,
        at exit, the client's clean-up of a session on it would)."""
        from pyspark.sql.connect.client.retries import DefaultPolicy

        server = self

        class _WhileServerRuns(DefaultPolicy):  # type: ignore[misc]
            def can_retry(self, e: BaseException) -> bool:
                gone = server.exited()
                if gone is not None:
                    raise SparkServerError(gone) from e
                return bool(super().can_retry(e))

        return _WhileServerRuns()

    def __enter__(self) -> LocalSparkServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """The JVM and the launcher's leftovers: the server has its own session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


_shared: dict[Path, LocalSparkServer] = {}
_shared_lock = threading.Lock()


def shared(
    folder: Path, *, cores: int, driver_memory: str, start_timeout_seconds: float
) -> LocalSparkServer:
    """The one local server of this process for ``folder``, started on first
    use: a run's tasks connect many times, and a JVM start costs seconds."""
    folder = folder.resolve()
    with _shared_lock:
        server = _shared.get(folder)
        if (
            server is None
            or server.process is None
            or server.process.poll() is not None
        ):
            server = LocalSparkServer(
                folder,
                cores=cores,
                driver_memory=driver_memory,
                start_timeout_seconds=start_timeout_seconds,
            ).start()
            _shared[folder] = server
        return server


def stop_shared() -> None:
    """Stop every server ``shared`` started now, not at exit (``atexit``
    stops each one otherwise): for a caller that wants a fresh server."""
    with _shared_lock:
        for server in _shared.values():
            server.stop()
        _shared.clear()
