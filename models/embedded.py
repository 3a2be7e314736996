"""The embedded MongoDB-compatible server (SecantusDB) as a child process.

Used by ``server.py`` when no MongoDB URI is given, and by the test session.
It listens on a free loopback port with its data in ``<data_dir>/db``; while
it runs, its URI is in ``<data_dir>/mongodb.uri`` so scripts can find it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

EXECUTABLE = "secantusd-py"
URI_FILE = "mongodb.uri"


class EmbeddedDatabaseError(Exception):
    """The embedded server could not be started (one line for the operator)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def find_executable() -> str:
    """The SecantusDB launcher beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / EXECUTABLE
    if beside.exists():
        return str(beside)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise EmbeddedDatabaseError(
            f"{EXECUTABLE} not found: install the SecantusDB package or pass --mongodb-uri"
        )
    return found


def read_uri(data_dir: str | Path) -> str | None:
    """The URI of the embedded server a running CSMS started with this data dir.

    None when there is none, or when the file is stale (left by a killed server:
    nothing listens there any more).
    """
    path = Path(data_dir) / URI_FILE
    if not path.exists():
        return None
    uri = path.read_text().strip()
    host, _, port = uri.split("//", 1)[-1].split("/", 1)[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), 1.0):
            return uri
    except (OSError, ValueError):
        return None


class EmbeddedDatabase:
    """Start and stop one SecantusDB child process.

    Call ``start`` from a thread that lives as long as the database should (the
    main thread): the child is told to exit when that thread dies.
    """

    def __init__(self, data_dir: str | Path, host: str = "127.0.0.1", write_uri_file=True):
        self.data_dir = Path(data_dir)
        self.host = host
        self.write_uri_file = write_uri_file
        self.process: subprocess.Popen | None = None
        self.uri: str | None = None

    @property
    def uri_file(self) -> Path:
        """Where the URI is published while the server runs."""
        return self.data_dir / URI_FILE

    def start(self, timeout: float = 20.0, attempts: int = 3, lock_wait: float = 15.0) -> str:
        """Start the server and wait until it accepts connections; return its URI.

        A data directory still locked by a database that is shutting down (its
        server was killed a moment ago) is retried for up to ``lock_wait`` seconds.
        """
        executable = find_executable()
        storage = self.data_dir / "db"
        logs = self.data_dir / "logs"
        storage.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        last_error = ""
        lock_deadline = time.monotonic() + lock_wait
        tries = 0
        while tries < attempts:  # the free port may be taken before the child binds it
            tries += 1
            port = free_port(self.host)
            log_path = logs / "secantusd.log"
            # --standalone: no oplog and no retryable-write records, which we
            # never read. SecantusDB prunes those records on every write in
            # O(records): after ~10,000 writes each update cost 4.7 ms instead
            # of 0.23 ms (measured). No multi-document transactions or change
            # streams are used here, so a replica set buys nothing.
            with open(log_path, "ab") as log_file:
                self.process = subprocess.Popen(
                    [executable, "--host", self.host, "--port", str(port),
                     "--storage-path", str(storage), "--log-level", "WARNING",
                     "--standalone"],
                    stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, preexec_fn=_die_with_parent,
                )  # fmt: skip
            if self._wait_ready(port, timeout):
                self.uri = f"mongodb://{self.host}:{port}/?directConnection=true"
                if self.write_uri_file:
                    self.uri_file.write_text(self.uri + "\n")
                return self.uri
            last_error = _tail(log_path)
            self.stop()
            if "busy" in last_error.lower() and time.monotonic() < lock_deadline:
                tries -= 1  # locked, not failed: wait for the other process to let go
                time.sleep(0.5)
        if "busy" in last_error.lower():
            last_error += f" (is another server using {storage}?)"
        raise EmbeddedDatabaseError(f"embedded database did not start: {last_error}")

    def _wait_ready(self, port: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection((self.host, port), 0.2):
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child by its pid (SIGTERM, then SIGKILL) and withdraw the URI file."""
        if self.write_uri_file and self.uri is not None:
            with contextlib.suppress(FileNotFoundError):
                if self.uri_file.read_text().strip() == self.uri:
                    self.uri_file.unlink()
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the thread that started us dies (even by SIGKILL), so
    a killed server never leaves its database running and holding the data directory.

    Not SIGTERM: a dying multi-threaded server can deliver it several times, and
    SecantusDB's SIGTERM handler deadlocks on the second one. Nothing acknowledged
    is lost: transactions are journaled (j=True) before they are acknowledged."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the stop() path still applies
        pass


PR_SET_PDEATHSIG = 1


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "it exited without a message"
