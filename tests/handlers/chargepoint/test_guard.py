"""The guarded HTTP server (handlers.chargepoint.guard) on loopback: socket caps in all and
per peer IP, the body timeout, 413 for large bodies, and a quiet pause when accept() runs
out of file descriptors (issue 21)."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket

import pytest
import tornado.testing
import tornado.web

from handlers.chargepoint.guard import GuardedHTTPServer, Throttled, socket_limit
from handlers.chargepoint.limits import LimitSettings
from tests.charge_points import raw_charger

LIMITS = LimitSettings(body_timeout=1.0)


@pytest.fixture
def guard():
    """The guard's caps in a test (tests parametrize this)."""
    return {"max_sockets": 20, "max_sockets_per_ip": 3}


@pytest.fixture
def http_server(io_loop, app, _unused_port, guard):
    """The application behind the guarded server, as server.py builds it."""
    server = GuardedHTTPServer(app, **LIMITS.http_server_kwargs(), **guard)
    server.add_socket(_unused_port[0])
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=10)


async def open_from(port: int, ip: str = "127.0.0.1"):
    """A raw connection to the server from ``ip`` (any 127.x address is loopback)."""
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(ip, 0))


async def slow_post(port: int, ip: str = "127.0.0.1", length: int = 100):
    """A login POST whose body never comes (the attack)."""
    reader, writer = await open_from(port, ip)
    writer.write(f"POST /ocpp/login HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())  # fmt: skip
    await writer.drain()
    return reader, writer


async def get(port: int, path: str, ip: str = "127.0.0.1") -> bytes:
    """The status line of GET ``path``."""
    reader, writer = await open_from(port, ip)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return line


@pytest.mark.gen_test
async def test_slow_bodies_from_one_ip_cannot_take_every_socket(http_server, http_port):
    held = [await slow_post(http_port) for _ in range(3)]
    reader, writer = await slow_post(http_port)  # the 4th from this IP: closed at once
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    # Health, pages and chargers from other addresses are served meanwhile.
    assert await get(http_port, "/healthz", "127.0.0.2") == b"HTTP/1.1 200 OK\r\n"
    async with raw_charger(f"ws://127.0.0.1:{http_port}/G1/",
                           local_addr=("127.0.0.2", 0)) as cp:  # fmt: skip
        assert (await cp.boot())[0] == 3
    # The body timeout closes the held ones; then the IP may connect again.
    for reader, writer in held:
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    assert await get(http_port, "/healthz") == b"HTTP/1.1 200 OK\r\n"


@pytest.mark.gen_test
@pytest.mark.parametrize("guard", [{"max_sockets": 2, "max_sockets_per_ip": 0}])
async def test_the_global_socket_cap_closes_beyond_it(http_server, http_port, guard):
    held = [await slow_post(http_port, ip) for ip in ("127.0.0.2", "127.0.0.3")]
    reader, writer = await open_from(http_port, "127.0.0.4")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    for _, held_writer in held:
        held_writer.close()


@pytest.mark.gen_test
@pytest.mark.parametrize("guard", [{"max_sockets": 20, "max_sockets_per_ip": 2}])
async def test_websockets_count_against_the_per_ip_socket_cap(http_server, http_port, guard):
    url = f"ws://127.0.0.1:{http_port}"
    async with raw_charger(f"{url}/W1/") as one, raw_charger(f"{url}/W2/"):
        assert (await one.boot())[0] == 3
        reader, writer = await open_from(http_port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


@pytest.mark.gen_test
async def test_a_large_body_gets_413_before_it_is_read(http_server, http_port):
    # Four anonymous 90 MiB login POSTs took the RSS from 91 MB to 1 GB.
    reader, writer = await slow_post(http_port, length=90 * 1024 * 1024)
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert response.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
    assert response.endswith(b"\r\n\r\nrequest body larger than 65536 bytes\n")
    assert b"Connection: close\r\n" in response
    # A body within the limit reaches the application (the form wants its XSRF token).
    reader, writer = await open_from(http_port)
    body = b"a=" + b"x" * 60_000
    writer.write(b"POST /ocpp/login HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))  # fmt: skip
    assert await asyncio.wait_for(reader.readline(), 5) == b"HTTP/1.1 403 Forbidden\r\n"
    writer.close()


def test_throttled_emits_at_most_once_per_period():
    now = [0.0]
    emitted: list[int] = []
    throttled = Throttled(1.0, emitted.append, clock=lambda: now[0])
    for _ in range(1000):
        throttled()
        now[0] += 0.001  # 1,000 failures in one second
    throttled()
    assert emitted == [1, 1000]


def test_socket_limit_is_below_the_file_descriptor_limit():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert socket_limit(10**9) == max(16, soft - 128)
    assert socket_limit(5) == 5


class Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("hello")


@pytest.mark.gen_test
async def test_emfile_is_logged_once_and_accept_resumes(io_loop, caplog):
    caplog.set_level(logging.INFO)
    listener, port = tornado.testing.bind_unused_port()
    server = GuardedHTTPServer(tornado.web.Application([("/", Hello)]))
    server.add_socket(listener)
    clients = [socket.socket() for _ in range(20)]  # their descriptors exist before the limit
    for client in clients:
        client.setblocking(False)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(client.fileno() for client in clients)
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
    try:
        for client in clients:
            client.connect_ex(("127.0.0.1", port))  # accept() needs a descriptor: EMFILE
        await asyncio.sleep(0.5)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    failures = [r for r in caplog.records if "accept failed" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in failures]
    assert "Too many open files" in failures[0].getMessage()
    assert not [r for r in caplog.records if "Exception in callback" in r.getMessage()]
    # Once descriptors are free again, the waiting connections are served.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"HTTP/1.1 200 OK\r\n"
    writer.close()
    for client in clients:
        client.close()
    server.stop()
    await server.close_all_connections()
