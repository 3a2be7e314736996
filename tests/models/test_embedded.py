"""The embedded server's helpers and error paths, with a stand-in executable (the real
server's lifecycle is covered by tests/test_server.py and the session fixture)."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from models.embedded import (
    EXECUTABLE,
    URI_FILE,
    EmbeddedDatabase,
    EmbeddedDatabaseError,
    find_executable,
    free_port,
    read_uri,
)

# A stand-in for secantusd-py: listens on --host/--port (recording its arguments), or
# prints MESSAGE and exits.
FAKE = """#!{python}
import socket, sys, time
args = sys.argv[1:]
with open({record!r}, "a") as out:
    out.write(" ".join(args) + "\\n")
if {message!r}:
    print({message!r}, flush=True)
    sys.exit(1)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((args[args.index("--host") + 1], int(args[args.index("--port") + 1])))
server.listen()
while True:
    time.sleep(1)
"""


def install_fake(monkeypatch, tmp_path: Path, message: str = "") -> Path:
    """Put a stand-in server beside a pretend ``sys.executable``; returns its argument log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "calls.txt"
    fake = bin_dir / EXECUTABLE
    fake.write_text(FAKE.format(python=sys.executable, record=str(record), message=message))
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    return record


def test_free_port_can_be_bound_at_once():
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_find_executable_prefers_the_one_beside_python_then_path(monkeypatch, tmp_path):
    beside = tmp_path / "venv"
    beside.mkdir()
    on_path = tmp_path / "path"
    on_path.mkdir()
    for folder in (beside, on_path):
        (folder / EXECUTABLE).write_text("#!/bin/sh\n")
        (folder / EXECUTABLE).chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setattr(sys, "executable", str(beside / "python"))
    assert find_executable() == str(beside / EXECUTABLE)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    assert find_executable() == str(on_path / EXECUTABLE)


def test_a_missing_executable_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(EmbeddedDatabaseError, match=f"^{EXECUTABLE} not found: install"):
        find_executable()
    with pytest.raises(EmbeddedDatabaseError, match="not found"):
        EmbeddedDatabase(tmp_path / "data").start()
    assert not (tmp_path / "data").exists()


def test_read_uri_only_while_something_listens(tmp_path):
    assert read_uri(tmp_path) is None  # no file
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        (tmp_path / URI_FILE).write_text(uri + "\n")
        assert read_uri(tmp_path) == uri
        assert read_uri(str(tmp_path)) == uri
    assert read_uri(tmp_path) is None  # stale: nothing listens there any more
    for junk in ("", "nonsense", "mongodb://127.0.0.1:notaport/"):
        (tmp_path / URI_FILE).write_text(junk)
        assert read_uri(tmp_path) is None, junk


def test_start_publishes_the_uri_and_stop_withdraws_it(monkeypatch, tmp_path):
    record = install_fake(monkeypatch, tmp_path)
    data = tmp_path / "data"
    embedded = EmbeddedDatabase(data)
    uri = embedded.start(timeout=10)
    process = embedded.process
    try:
        port = int(uri.split(":")[2].split("/")[0])
        assert uri == f"mongodb://127.0.0.1:{port}/?directConnection=true"
        assert embedded.uri == uri
        assert (data / URI_FILE).read_text() == uri + "\n"
        assert read_uri(data) == uri
        assert (data / "db").is_dir() and (data / "logs").is_dir()
        assert record.read_text().split() == [
            "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data / "db"),
            "--log-level", "WARNING", "--standalone",
        ]  # fmt: skip
    finally:
        embedded.stop()
    assert process.poll() is not None
    assert embedded.process is None
    assert not (data / URI_FILE).exists()
    embedded.stop()  # stopping again is harmless


def test_stop_leaves_a_uri_file_another_server_wrote(monkeypatch, tmp_path):
    install_fake(monkeypatch, tmp_path)
    embedded = EmbeddedDatabase(tmp_path / "data")
    embedded.start(timeout=10)
    other = "mongodb://127.0.0.1:1/?directConnection=true"
    embedded.uri_file.write_text(other + "\n")
    embedded.stop()
    assert embedded.uri_file.read_text() == other + "\n"


def test_without_a_uri_file(monkeypatch, tmp_path):
    install_fake(monkeypatch, tmp_path)
    embedded = EmbeddedDatabase(tmp_path / "data", write_uri_file=False)
    try:
        assert embedded.start(timeout=10).startswith("mongodb://127.0.0.1:")
        assert not embedded.uri_file.exists()
    finally:
        embedded.stop()


def test_a_server_that_exits_is_retried_then_reported_with_its_last_line(monkeypatch, tmp_path):
    record = install_fake(monkeypatch, tmp_path, message="fatal: cannot open storage")
    embedded = EmbeddedDatabase(tmp_path / "data")
    with pytest.raises(EmbeddedDatabaseError) as caught:
        embedded.start(timeout=10, attempts=2)
    assert str(caught.value) == "embedded database did not start: fatal: cannot open storage"
    assert len(record.read_text().splitlines()) == 2  # two attempts
    assert embedded.process is None
    assert not embedded.uri_file.exists()


def test_a_busy_data_directory_is_waited_for_then_named(monkeypatch, tmp_path):
    record = install_fake(monkeypatch, tmp_path, message="Storage busy: locked")
    embedded = EmbeddedDatabase(tmp_path / "data")
    started = time.monotonic()
    with pytest.raises(EmbeddedDatabaseError) as caught:
        embedded.start(timeout=10, attempts=1, lock_wait=1.0)
    assert time.monotonic() - started >= 1.0  # retried while the lock might be released
    assert len(record.read_text().splitlines()) >= 2
    assert str(caught.value) == (
        "embedded database did not start: Storage busy: locked"
        f" (is another server using {tmp_path / 'data' / 'db'}?)"
    )
