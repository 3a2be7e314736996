"""server.py as an operator runs it: embedded database, logs, clean shutdown, clear errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets

from models.embedded import free_port
from models.migrations import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent


def start_server(data_dir: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--port", str(port),
         "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    return process, port


def wait_listening(process: subprocess.Popen, timeout: float = 20.0) -> list[str]:
    """The lines printed up to and including the "listening" line."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        lines.append(line.rstrip("\n"))
        if "CSMS listening" in line:
            return lines
    raise AssertionError(f"not listening: {lines}")


def stop(process: subprocess.Popen, timeout: float = 20.0) -> int:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
    return process.wait(timeout)


def port_open(uri: str) -> bool:
    host_port = uri.split("//")[1].split("/")[0].rpartition("@")[2]
    host, port = host_port.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), 0.5):
            return True
    except OSError:
        return False


async def boot_and_wait_close(port: int, process: subprocess.Popen) -> int:
    async with websockets.connect(f"ws://127.0.0.1:{port}/x/SRV1/", subprotocols=["ocpp1.6"]) as ws:
        await ws.send('[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
        reply = await asyncio.wait_for(ws.recv(), 10)
        assert reply.startswith('[3,"b",{"status":"Accepted"')
        os.kill(process.pid, signal.SIGTERM)
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 15)
        return ws.close_code


def test_embedded_database_lifecycle_and_frame_log(tmp_path):
    process, port = start_server(tmp_path)
    try:
        printed = wait_listening(process)
        assert printed[0].startswith("Created user 'admin' with password: ")
        uri = (tmp_path / "mongodb.uri").read_text().strip()
        assert uri.startswith("mongodb://csms:")  # the embedded database wants a login
        assert port_open(uri)
        # Nobody but the owner reads the data, the URI (with its password) or the logs.
        assert {p.name for p in tmp_path.iterdir()} >= {"mongodb.uri", "cookie_secret", "db"}
        for path in [tmp_path, *tmp_path.iterdir(), *(tmp_path / "logs").iterdir()]:
            assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path
        close_code = asyncio.run(boot_and_wait_close(port, process))
        assert close_code == 1001
        assert process.wait(20) == 0
    finally:
        stop(process)
    assert not (tmp_path / "mongodb.uri").exists()
    assert not port_open(uri)
    frames_log = [json.loads(line) for line in
                  (tmp_path / "logs" / "ocpp-frames.log").read_text().splitlines()]  # fmt: skip
    logged = [(r["charger"], r["dir"], r["frame"][:30]) for r in frames_log]
    assert ("SRV1", "in", '[2,"b","BootNotification",{"ch') in logged
    assert " INFO csms.server event loop: uvloop\n" in (tmp_path / "logs" / "csms.log").read_text()
    assert ("SRV1", "out", '[3,"b",{"status":"Accepted","c') in logged
    assert (tmp_path / "db").is_dir()

    # The data survives a restart.
    process, port = start_server(tmp_path)
    try:
        assert wait_listening(process) == [f"CSMS listening on http://127.0.0.1:{port}/"]
        out = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "migrate.py"), "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[-1] == f"indexes ensured; schema version {SCHEMA_VERSION}"
    finally:
        assert stop(process) == 0


def test_no_uvloop_runs_on_asyncio_loop(tmp_path):
    process, port = start_server(tmp_path, "--no-uvloop")
    try:
        wait_listening(process)
        assert asyncio.run(boot_and_wait_close(port, process)) == 1001
        assert process.wait(20) == 0
    finally:
        stop(process)
    log_text = (tmp_path / "logs" / "csms.log").read_text()
    assert " INFO csms.server event loop: asyncio\n" in log_text


def test_tune_gc_freezes_startup_objects_and_makes_full_passes_rare():
    import gc

    import server

    before = gc.get_threshold()
    try:
        server.tune_gc()
        assert gc.get_threshold() == (before[0], before[1], server.FULL_GC_AFTER)
        assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_unreachable_database_is_one_line_and_exit_2(tmp_path):
    process, _ = start_server(tmp_path, "--mongodb-uri", "mongodb://127.0.0.1:1/")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot reach MongoDB at mongodb://127.0.0.1:1/")


def test_busy_port_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        process = subprocess.run(
            [sys.executable, str(ROOT / "server.py"), "--port", str(port),
             "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert lines[0].endswith("Address already in use")
    # The port is checked first: no database started, no admin password printed for nothing.
    assert process.stdout == ""
    assert not (tmp_path / "db").exists()
    assert not (tmp_path / "mongodb.uri").exists()


def test_migrate_reset_keeps_data(tmp_path):
    process, _ = start_server(tmp_path)  # the server creates (and migrates) the database
    wait_listening(process)
    assert stop(process) == 0
    script = [sys.executable, str(ROOT / "scripts" / "migrate.py"), "--data-dir", str(tmp_path)]
    again = subprocess.run(script, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "applied" not in again.stdout  # nothing left to apply
    reset = subprocess.run([*script, "--reset"], capture_output=True, text=True, timeout=60)
    assert reset.returncode == 0
    assert reset.stdout.splitlines()[0] == "dropped indexes and cleared the schema version"
    assert "applied 1: create collections and the meter_values time series" in reset.stdout
    assert "applied 2: transaction counter above every stored id" in reset.stdout
    assert "applied 3: charger search terms and connector statuses" in reset.stdout


def test_first_run_defaults_as_a_user_gets_them(tmp_path):
    """No options but the port and data dir: the map has OpenStreetMap tiles, / leads to
    the dashboard."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    process, port = start_server(tmp_path, "--admin-password", "first-run-pw")
    base = f"http://127.0.0.1:{port}"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    try:
        wait_listening(process)
        with opener.open(base + "/", timeout=10) as response:
            assert response.url == base + "/ocpp/login?next=%2Focpp%2F"
        xsrf = next(cookie.value for cookie in jar if cookie.name == "_xsrf")

        def post(path: str, fields: dict) -> str:
            body = urllib.parse.urlencode({**fields, "_xsrf": xsrf}).encode()
            with opener.open(base + path, body, timeout=10) as response:
                return response.read().decode()

        post("/ocpp/login", {"username": "admin", "password": "first-run-pw", "next": "/ocpp/"})
        page = post("/ocpp/admin/chargers/", {"id": "MAP1", "name": ""})
        assert 'data-tile-url="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page
    finally:
        assert stop(process) == 0


def test_require_rfid_default_makes_new_chargers_refuse_unknown_tags(tmp_path):
    """--require-rfid-default: an auto-registered charger gets require_rfid on, so an
    unknown tag is Invalid there (without the option it is Accepted)."""

    async def authorize(port: int) -> str:
        url = f"ws://127.0.0.1:{port}/x/NEW1/"
        async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
            boot = {"chargePointVendor": "V", "chargePointModel": "M"}
            await ws.send(json.dumps([2, "b", "BootNotification", boot]))
            await asyncio.wait_for(ws.recv(), 10)
            await ws.send('[2,"a","Authorize",{"idTag":"NOBODY"}]')
            return await asyncio.wait_for(ws.recv(), 10)

    for extra, expected in (([], "Accepted"), (["--require-rfid-default"], "Invalid")):
        process, port = start_server(tmp_path / (extra[0][2:] if extra else "plain"), *extra)
        try:
            wait_listening(process)
            reply = asyncio.run(authorize(port))
            assert json.loads(reply) == [3, "a", {"idTagInfo": {"status": expected}}]
        finally:
            assert stop(process) == 0


@pytest.mark.parametrize("value", ["0", "-5", "lots", "inf"])
def test_max_connector_kw_must_be_a_positive_number(tmp_path, value):
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--data-dir", str(tmp_path),
         "--max-connector-kw", value],
        capture_output=True, text=True, cwd=ROOT, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert "argument --max-connector-kw:" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "db").exists()


def test_availability_flags_reach_the_limits_and_settings(monkeypatch):
    import server_options as server

    monkeypatch.setenv("CSMS_MAX_BODY_SIZE", "1000")
    args = server.parse_args(["--max-connections-per-ip", "7", "--sink-message-rate", "0.5",
                              "--default-security-profile", "2", "--max-open-sockets", "99",
                              "--registration-burst-per-ip", "4"])  # fmt: skip
    limits = server.limit_settings(args)
    assert (
        limits.max_connections_per_ip,
        limits.sink_message_rate,
        limits.max_body_size,
        limits.max_open_sockets,
        limits.registration_burst_per_ip,
    ) == (7, 0.5, 1000, 99, 4)
    assert args.default_security_profile == 2
    monkeypatch.delenv("CSMS_MAX_BODY_SIZE")
    defaults = server.limit_settings(server.parse_args([]))
    assert defaults == server.LimitSettings()
    with pytest.raises(SystemExit):
        server.parse_args(["--default-security-profile", "3"])


def test_load_management_flags_reach_its_settings(monkeypatch):
    import server_options as server

    monkeypatch.setenv("CSMS_LOAD_CONNECTOR_MAX_A", "16")
    args = server.parse_args(["--load-hold-seconds", "5", "--load-call-timeout", "3"])
    load = server.load_settings(args)
    assert (load.hold_s, load.connector_max_a, load.call_timeout) == (5.0, 16.0, 3.0)
    monkeypatch.delenv("CSMS_LOAD_CONNECTOR_MAX_A")
    assert server.load_settings(server.parse_args([])) == server.LoadSettings()
    with pytest.raises(SystemExit):
        server.parse_args(["--load-connector-max-a", "0"])


def test_the_soft_file_descriptor_limit_is_raised_to_the_hard_one():
    # A charger is a socket: left at a soft limit of 1,024 the socket cap would be ~900.
    code = (
        "import resource, server\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(512, hard), hard))\n"
        "server.raise_fd_limit()\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard) or hard == -1)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=30)  # fmt: skip
    assert result.stdout.strip() == "True", result.stderr
