"""Test session: one embedded database server (or MONGODB_URI), a fresh database per test,
and the application served on a loopback port by pytest-tornado."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from csms import alerts
from csms.registry import ConnectionRegistry
from csms.services import CsmsSettings, Services
from handlers.base import WebSettings
from handlers.routes import make_app
from models.db import connect
from models.embedded import EmbeddedDatabase
from models.migrations import migrate
from ocppj.validation import SchemaStore
from simulator.manager import SimulatorManager

COOKIE_SECRET = "test-cookie-secret"
ADMIN = ("admin", "correct horse battery")
STOP_TIMEOUT = 30.0  # seconds Services.stop may take in a test (its own waits are 5 s)


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory):
    """MONGODB_URI when set, else an embedded SecantusDB started for the whole session."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    embedded = EmbeddedDatabase(tmp_path_factory.mktemp("secantus"), write_uri_file=False)
    yield embedded.start()
    embedded.stop()


@pytest.fixture(scope="session")
def schemas():
    """The OCPP schemas, compiled once for the session."""
    return SchemaStore()


@pytest.fixture
def db_name():
    """A database name no other test uses."""
    return f"test_{uuid.uuid4().hex[:16]}"


@pytest.fixture
def settings():
    """OCPP-side settings for tests: short flush interval so reads see writes quickly; the
    fleet overview read again at every use (tests write charger documents directly)."""
    return CsmsSettings(heartbeat_interval=120, flush_interval=0.02, fleet_max_age=0)


@pytest.fixture
def db(io_loop, mongodb_uri, db_name):
    """A migrated, empty database on the test's loop; dropped afterwards."""
    client, database = io_loop.run_sync(lambda: connect(mongodb_uri, db_name))
    io_loop.run_sync(lambda: migrate(database))
    yield database
    io_loop.run_sync(lambda: client.drop_database(db_name))
    io_loop.run_sync(client.close)


@pytest.fixture
def services(io_loop, db, settings, schemas):
    """Services wired to the test database, writers running."""
    built = Services.build(db, settings, schemas)
    alerts.attach(built)

    async def start():
        built.start()

    io_loop.run_sync(start)
    yield built
    try:
        io_loop.run_sync(built.stop, timeout=STOP_TIMEOUT)
    except TimeoutError:
        # A stop that never ends is a bug: fail with what was still running.
        pending = [task for task in asyncio.all_tasks(io_loop.asyncio_loop) if not task.done()]
        stacks = "\n".join(f"{task!r}: {task.get_stack(limit=8)}" for task in pending)
        pytest.fail(f"Services.stop did not finish in {STOP_TIMEOUT} s; pending:\n{stacks}")


@pytest.fixture
def registry(services):
    """The live-connection registry, storing commands."""
    return ConnectionRegistry(
        services.schemas,
        services.commands,
        default_timeout=services.settings.call_timeout,
        metrics=services.metrics,
    )


@pytest.fixture
def web_settings(http_port):
    """Web settings pointing the public URL at the test server."""
    return WebSettings(public_url=f"http://127.0.0.1:{http_port}")


@pytest.fixture
def simulators(io_loop, schemas):
    """The simulator manager of the default app; whatever still runs is stopped afterwards."""
    manager = SimulatorManager(schemas, stop_timeout=5)
    yield manager
    io_loop.run_sync(lambda: manager.stop_all(2))


@pytest.fixture
def app(services, registry, web_settings, simulators):
    """The application under test (pytest-tornado serves it)."""
    return make_app(
        services, registry, web=web_settings, cookie_secret=COOKIE_SECRET,
        ping_interval=None, ping_timeout=None, simulators=simulators,
    )  # fmt: skip


@pytest.fixture
def admin_user(io_loop, services):
    """An operator account: (username, password)."""
    io_loop.run_sync(lambda: services.users.create(ADMIN[0], ADMIN[1]))
    return ADMIN


@pytest.fixture
def api_token(io_loop, services, admin_user):
    """A valid API token of the admin user."""
    return io_loop.run_sync(lambda: services.tokens.create(admin_user[0], "tests"))


@pytest.fixture
def auth_headers(api_token):
    """Headers that authenticate an API request."""
    return {"Authorization": f"Bearer {api_token}"}


@pytest.fixture
def ws_url(http_server, http_port):
    """Build a loopback WebSocket URL for a path on the test server."""

    def build(path: str = "/CP1/") -> str:
        return f"ws://127.0.0.1:{http_port}{path}"

    return build


@pytest.fixture
def http_url(http_server, http_port):
    """Build a loopback HTTP URL for a path on the test server."""

    def build(path: str = "/") -> str:
        return f"http://127.0.0.1:{http_port}{path}"

    return build
