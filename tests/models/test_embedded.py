"""The embedded server's helpers and error paths, with a stand-in executable, and its login
and file modes with the real server (its lifecycle under the CSMS is covered by
tests/test_server.py and the session fixture)."""

from __future__ import annotations

import json
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from models.embedded import (
    CREDENTIALS_FILE,
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
    embedded = EmbeddedDatabase(data, auth=False)
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
    embedded = EmbeddedDatabase(tmp_path / "data", auth=False)
    embedded.start(timeout=10)
    other = "mongodb://127.0.0.1:1/?directConnection=true"
    embedded.uri_file.write_text(other + "\n")
    embedded.stop()
    assert embedded.uri_file.read_text() == other + "\n"


def test_without_a_uri_file(monkeypatch, tmp_path):
    install_fake(monkeypatch, tmp_path)
    embedded = EmbeddedDatabase(tmp_path / "data", write_uri_file=False, auth=False)
    try:
        assert embedded.start(timeout=10).startswith("mongodb://127.0.0.1:")
        assert not embedded.uri_file.exists()
    finally:
        embedded.stop()


def test_a_server_that_exits_is_retried_then_reported_with_its_last_line(monkeypatch, tmp_path):
    record = install_fake(monkeypatch, tmp_path, message="fatal: cannot open storage")
    embedded = EmbeddedDatabase(tmp_path / "data", auth=False)
    with pytest.raises(EmbeddedDatabaseError) as caught:
        embedded.start(timeout=10, attempts=2)
    assert str(caught.value) == "embedded database did not start: fatal: cannot open storage"
    assert len(record.read_text().splitlines()) == 2  # two attempts
    assert embedded.process is None
    assert not embedded.uri_file.exists()


def test_a_busy_data_directory_is_waited_for_then_named(monkeypatch, tmp_path):
    record = install_fake(monkeypatch, tmp_path, message="Storage busy: locked")
    embedded = EmbeddedDatabase(tmp_path / "data", auth=False)
    started = time.monotonic()
    with pytest.raises(EmbeddedDatabaseError) as caught:
        embedded.start(timeout=10, attempts=1, lock_wait=1.0)
    assert time.monotonic() - started >= 1.0  # retried while the lock might be released
    assert len(record.read_text().splitlines()) >= 2
    assert str(caught.value) == (
        "embedded database did not start: Storage busy: locked"
        f" (is another server using {tmp_path / 'data' / 'db'}?)"
    )


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _can_write(uri: str) -> bool:
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        try:
            client.csms_probe.things.insert_one({"n": 1})
        except OperationFailure:
            return False
    return True


def test_the_real_server_wants_our_login_and_its_files_are_private(tmp_path):
    # The attack: no authentication, and the URI, data files and logs world-readable.
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True, mode=0o755)
    (data / "logs").chmod(0o755)  # left by an older version
    embedded = EmbeddedDatabase(data)
    uri = embedded.start()
    try:
        port = int(uri.rsplit(":", 1)[1].split("/")[0])
        password = json.loads((data / CREDENTIALS_FILE).read_text())["password"]
        assert uri == (f"mongodb://csms:{password}@127.0.0.1:{port}/"
                       "?directConnection=true&authSource=admin")  # fmt: skip
        assert len(password) == 48
        assert read_uri(data) == uri
        assert {name: _mode(data / name) for name in ("", "db", "logs")} == dict.fromkeys(
            ("", "db", "logs"), 0o700)  # fmt: skip
        assert _mode(data / URI_FILE) == _mode(data / CREDENTIALS_FILE) == 0o600
        assert _mode(data / "logs" / "secantusd.log") == 0o600
        assert not _can_write(f"mongodb://127.0.0.1:{port}/?directConnection=true")
        assert not _can_write(uri.replace(password, "x" * 48))
        assert _can_write(uri)
    finally:
        embedded.stop()
    again = EmbeddedDatabase(data)
    try:
        assert again.start() == uri.replace(str(port), uri_port(again.uri))
        with MongoClient(again.uri) as client:
            assert client.csms_probe.things.count_documents({}) == 1  # same data, same login
    finally:
        again.stop()


def uri_port(uri: str) -> str:
    return uri.rsplit(":", 1)[1].split("/")[0]


def test_a_lost_password_file_gets_a_new_password_and_keeps_the_data(tmp_path):
    data = tmp_path / "data"
    first = EmbeddedDatabase(data, write_uri_file=False)
    old_uri = first.start()
    try:
        assert _can_write(old_uri)
    finally:
        first.stop()
    (data / CREDENTIALS_FILE).unlink()
    second = EmbeddedDatabase(data, write_uri_file=False)
    uri = second.start()
    try:
        new_password = json.loads((data / CREDENTIALS_FILE).read_text())["password"]
        assert new_password in uri and new_password not in old_uri
        assert not _can_write(old_uri.replace(uri_port(old_uri), uri_port(uri)))
        with MongoClient(uri) as client:
            assert client.csms_probe.things.count_documents({}) == 1
    finally:
        second.stop()


def test_a_replaced_database_is_given_our_user_again(tmp_path):
    data = tmp_path / "data"
    first = EmbeddedDatabase(data, write_uri_file=False)
    first.start()
    first.stop()
    shutil.rmtree(data / "db")  # restored from elsewhere / wiped: the password file stays
    second = EmbeddedDatabase(data, write_uri_file=False)
    try:
        assert _can_write(second.start())
    finally:
        second.stop()
