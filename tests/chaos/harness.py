"""server.py as a child process the chaos tests can kill and restart on the same data dir.

Every process is stopped by its own pid (SIGTERM, SIGKILL); nothing is looked up by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from models.embedded import free_port, read_uri

ROOT = Path(__file__).resolve().parents[2]
READY = "CSMS listening on"
# A killed server's embedded database gets SIGTERM and exits within ~2 s.
DATABASE_EXIT_TIMEOUT = 10.0
# Known bug (test_embedded_database_dies_by_sigkill_with_its_server): now and then the
# database of a killed server hangs instead of exiting. The tests kill it and count it;
# set this to False once the fix is in, so that a hang fails them.
TOLERATE_DATABASE_HANGS = False


class ServerProcess:
    """One ``server.py`` on a fixed loopback port and data dir; restartable after a kill."""

    def __init__(self, data_dir: Path, port: int | None = None, *extra: str):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.extra = extra
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0
        self.last_start_s = 0.0
        # Databases of killed servers not yet seen gone, and how many had to be SIGKILLed
        # by us because they hung instead of exiting (see reap_databases).
        self._orphans: list[int] = []
        self.database_hangs = 0

    @property
    def url(self) -> str:
        """The WebSocket base URL chargers connect to (their id is appended)."""
        return f"ws://127.0.0.1:{self.port}/ocpp/"

    @property
    def http_url(self) -> str:
        """The HTTP base URL."""
        return f"http://127.0.0.1:{self.port}"

    def mongodb_uri(self) -> str:
        """The URI of the embedded database while the server runs."""
        uri = read_uri(self.data_dir)
        assert uri is not None, "the server publishes no database URI"
        return uri

    def start(self, timeout: float = 45.0) -> float:
        """Start the server and wait for its "listening" line; return the seconds it took.

        A restart right after a kill waits for the old database to let go of the data
        dir (models.embedded retries the lock), so the timeout is generous.
        """
        assert self.process is None or self.process.poll() is not None, "already running"
        self.reap_databases()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = self.data_dir / f"server-{self.starts}.out"
        began = time.monotonic()
        with open(out, "wb") as handle:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1",
                 "--port", str(self.port), "--data-dir", str(self.data_dir),
                 "--admin-password", "chaos-admin-pw", "--ping-interval", "0",
                 "--log-level", "WARNING", *self.extra],
                stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
            )  # fmt: skip
        self.starts += 1
        deadline = began + timeout
        while time.monotonic() < deadline:
            if READY in out.read_text(errors="replace"):
                self.last_start_s = time.monotonic() - began
                return self.last_start_s
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        text = out.read_text(errors="replace")[-2000:]
        self.stop()
        raise AssertionError(f"server did not start within {timeout} s: {text}")

    def kill(self, database_too: bool = False) -> None:
        """SIGKILL the server (its embedded database then exits on its own); with
        ``database_too`` SIGKILL the database first, as a power cut or the OOM killer would."""
        assert self.process is not None
        databases = children(self.process.pid)
        if database_too:
            for pid in databases:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.kills += 1
        self._orphans.extend(databases)

    def reap_databases(self, timeout: float = DATABASE_EXIT_TIMEOUT) -> None:
        """Wait for the databases of killed servers to exit; SIGKILL (by pid) and count
        those that hang. Such a database holds the data-dir lock forever, so no restart
        could succeed: an operator would have to kill it by hand."""
        deadline = time.monotonic() + timeout
        while self._orphans:
            self._orphans = [pid for pid in self._orphans if _alive(pid)]
            if not self._orphans:
                return
            if time.monotonic() >= deadline:
                for pid in self._orphans:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.database_hangs += len(self._orphans)
                deadline = time.monotonic() + timeout
            time.sleep(0.05)

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait: a clean shutdown; SIGKILL when it does not end in time."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        os.kill(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
            return None

    def stop(self) -> None:
        """Whatever state it is in: make sure it (and any database it left) no longer runs."""
        with contextlib.suppress(ProcessLookupError, OSError):
            self.terminate()
        self.reap_databases()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log files, for failure messages."""
        found = []
        for path in sorted(self.data_dir.glob("server-*.out")):
            found.extend(path.read_text(errors="replace").splitlines())
        return "\n".join(found[-lines:])


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (from ``/proc/<pid>/task/*/children``)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.update(int(c) for c in (task / "children").read_text().split())
    return sorted(found)


def raise_nofile_limit(wanted: int) -> int:
    """Raise this process's open-file soft limit towards ``wanted``; return the new limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class DatabaseProcess:
    """``scripts/database.py``: the embedded database alone, shared by several servers."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.process: subprocess.Popen | None = None
        self.uri = ""

    def start(self, timeout: float = 30.0) -> str:
        """Start it and return the URI it prints."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = self.data_dir / "database.out"
        with open(out, "wb") as handle:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "scripts" / "database.py"),
                 "--data-dir", str(self.data_dir)],
                stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = out.read_text(errors="replace").splitlines()
            if lines and lines[0].startswith("mongodb://"):
                self.uri = lines[0].strip()
                return self.uri
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"database did not start: {out.read_text(errors='replace')}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL when it does not end in time); the exit code."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        os.kill(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            return process.wait(10)
