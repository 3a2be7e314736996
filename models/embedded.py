"""The embedded MongoDB-compatible server (SecantusDB) as a child process.

Used by ``server.py`` when no MongoDB URI is given, and by the test session.
It listens on a free loopback port with its data in ``<data_dir>/db``; while
it runs, its URI is in ``<data_dir>/mongodb.uri`` so scripts can find it.

It requires a login (SCRAM-SHA-256), so another local user or process that finds
the port cannot read or change the data: on first start a user ``csms`` with a
random password is created (the server started once without ``--auth`` to do so),
and the password is kept in ``<data_dir>/mongodb.credentials``. The data dir is
0700 and both files 0600.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient  # synchronous: start() runs before the event loop
from pymongo.errors import OperationFailure, PyMongoError

EXECUTABLE = "secantusd-py"
URI_FILE = "mongodb.uri"
CREDENTIALS_FILE = "mongodb.credentials"
DB_USER = "csms"


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
    address = uri.split("//", 1)[-1].split("/", 1)[0].rpartition("@")[2]
    host, _, port = address.rpartition(":")
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

    def __init__(
        self,
        data_dir: str | Path,
        host: str = "127.0.0.1",
        write_uri_file=True,
        auth=True,
        *,
        port: int | None = None,
        replica_set: bool = False,
    ):
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port  # None: a free port
        # A one-node replica set (change streams, for several instances), else --standalone.
        self.replica_set = replica_set
        self.write_uri_file = write_uri_file
        self.auth = auth
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
        find_executable()  # a clear error before anything is created
        for path in (self.data_dir, self.data_dir / "db", self.data_dir / "logs"):
            private_dir(path)
        if not self.auth:
            return self._start(timeout, attempts, lock_wait, None)
        password = self._password()
        if password is None:  # first start: create the user, then run with --auth
            password = secrets.token_hex(24)
            self._provision(password, timeout, attempts, lock_wait)
        uri = self._start(timeout, attempts, lock_wait, password)
        if not self._logs_in(uri):  # the database was replaced: give it our user again
            self.stop()
            self._provision(password, timeout, attempts, lock_wait)
            uri = self._start(timeout, attempts, lock_wait, password)
        return uri

    @property
    def credentials_file(self) -> Path:
        """Where the database password is kept (mode 0600)."""
        return self.data_dir / CREDENTIALS_FILE

    def _password(self) -> str | None:
        try:
            return json.loads(self.credentials_file.read_text())["password"]
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            raise EmbeddedDatabaseError(f"{self.credentials_file} is damaged: remove it") from None

    def _provision(self, password: str, timeout: float, attempts: int, lock_wait: float) -> None:
        """Start once without --auth, create or update our user, keep the password, stop."""
        uri = self._start(timeout, attempts, lock_wait, None, publish=False)
        try:
            with MongoClient(uri, serverSelectionTimeoutMS=int(timeout * 1000)) as client:
                roles = [{"role": "root", "db": "admin"}]
                try:
                    client.admin.command("createUser", DB_USER, pwd=password, roles=roles)
                except OperationFailure:  # it exists (our password file was lost)
                    client.admin.command("updateUser", DB_USER, pwd=password, roles=roles)
        except PyMongoError as exc:
            raise EmbeddedDatabaseError(f"could not create the database user: {exc}") from None
        finally:
            self.stop()
        write_private(self.credentials_file, json.dumps({"user": DB_USER, "password": password}))

    def _logs_in(self, uri: str) -> bool:
        with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
            try:
                client.admin.command("listDatabases", nameOnly=True)
            except OperationFailure:
                return False
        return True

    def _start(
        self, timeout: float, attempts: int, lock_wait: float, password: str | None, publish=True
    ) -> str:
        executable = find_executable()
        storage = self.data_dir / "db"
        logs = self.data_dir / "logs"
        last_error = ""
        lock_deadline = time.monotonic() + lock_wait
        tries = 0
        while tries < attempts:  # the free port may be taken before the child binds it
            tries += 1
            port = self.port or free_port(self.host)
            log_path = logs / "secantusd.log"
            # --standalone: no oplog and no retryable-write records, which we
            # never read. SecantusDB prunes those records on every write in
            # O(records): after ~10,000 writes each update cost 4.7 ms instead
            # of 0.23 ms (measured). One instance needs no change streams, so a
            # replica set buys nothing; several instances (``replica_set``) do,
            # and their clients turn retryable writes off (the URI says so).
            topology = [] if self.replica_set else ["--standalone"]
            login = ["--auth"] if password is not None else []
            log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            log_path.chmod(0o600)
            with os.fdopen(log_fd, "ab") as log_file:
                self.process = subprocess.Popen(
                    [executable, "--host", self.host, "--port", str(port),
                     "--storage-path", str(storage), "--log-level", "WARNING",
                     *topology, *login],
                    stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, preexec_fn=_die_with_parent,
                )  # fmt: skip
            if self._wait_ready(port, timeout):
                user = f"{DB_USER}:{password}@" if password is not None else ""
                options = "directConnection=true" + ("&authSource=admin" if user else "")
                if self.replica_set:
                    options += "&retryWrites=false"
                uri = f"mongodb://{user}{self.host}:{port}/?{options}"
                if publish:
                    self.uri = uri
                    if self.write_uri_file:
                        write_private(self.uri_file, self.uri + "\n")
                return uri
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


def private_dir(path: Path) -> None:
    """Create ``path`` if needed and make it the owner's only (0700), also when it existed."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read (0600), replacing it atomically."""
    temporary = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    temporary.replace(path)


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the thread that started us dies (even by SIGKILL), so
    a killed server never leaves its database running and holding the data directory.

    Not SIGTERM: a dying multi-threaded server can deliver it several times, and
    SecantusDB's SIGTERM handler deadlocks on the second one. Nothing acknowledged
    is lost: transactions are journaled (j=True) before they are acknowledged."""
    os.umask(0o077)  # its files are the owner's only, like ours
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
