"""Three Central System instances on one database (``scripts/database.py``).

Chargers (the ``ocpp`` library) connect to different instances; an operator's action
on B reaches a charger held by A (then by C, after its socket was killed on A and it
reconnected there) and B returns the charger's own answer; the dashboard stream on C
shows a charger on A going Charging; A is SIGKILLed and its charger shows offline
within the lease time, and online again once it reconnects to B; every acknowledged
transaction is stored once, with its stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from ocpp.v16 import call
from pymongo import MongoClient

from tests.chaos.harness import DatabaseProcess, ServerProcess
from tests.charge_points import ocpp_charge_point
from tests.handlers.api.support import call as api
from tests.handlers.api.support import data
from tests.handlers.api.test_actions import Charger
from tests.handlers.test_auth import basic, login
from tests.handlers.test_live import EventStream

PASSWORD = "chaos-admin-pw"  # what the harness gives every server
LEASE_S = 3.0
AUTH = {"Authorization": basic("admin", PASSWORD)}
TS = "2026-01-01T00:00:00Z"


def builder(server: ServerProcess):
    """The ``http_url`` callable the API helpers take, for one server."""
    return lambda path="/": server.http_url + path


async def charger_view(server: ServerProcess, charger_id: str) -> dict:
    """The charger as the server's API shows it."""
    response = await api(builder(server), f"/ocpp/chargers/{charger_id}/", headers=AUTH)
    assert response.code == 200, response.body
    return data(response)


async def until(condition, timeout: float) -> float:
    """Poll an async condition in the test (never in the product); the seconds it took."""
    began = time.monotonic()
    while not await condition():
        assert time.monotonic() - began < timeout, "condition not met in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def reset_via(server: ServerProcess, charger_id: str) -> dict:
    """A soft reset of ``charger_id`` asked of ``server``'s API: the outcome."""
    response = await api(
        builder(server), f"/ocpp/chargers/{charger_id}/action/", method="POST", headers=AUTH,
        json={"action": "reset", "type": "Soft"}, request_timeout=40,
    )  # fmt: skip
    assert response.code == 200, response.body
    return data(response)


async def booted(cp: Charger) -> None:
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))


async def start(cp: Charger, connector: int, meter: int) -> int:
    reply = await cp.call(call.StartTransaction(
        connector_id=connector, id_tag="T", meter_start=meter, timestamp=TS))  # fmt: skip
    return reply.transaction_id


async def stop(cp: Charger, transaction: int, meter: int) -> None:
    await cp.call(call.StopTransaction(meter_stop=meter, timestamp=TS, transaction_id=transaction))


async def scenario(a: ServerProcess, b: ServerProcess, c: ServerProcess, uri: str) -> None:
    acknowledged: list[int] = []
    database = MongoClient(uri, tz_aware=True).csms
    _, cookie = await login(builder(c), "admin", PASSWORD)
    live = await EventStream.open(c.port, cookie, "/ocpp/live/events?charger=CPA")  # its page
    try:
        assert live.status == 200
        await live.event_of("snapshot")
        async with ocpp_charge_point(a.url + "CPA", "CPA", Charger) as cp:
            await booted(cp)
            await until(lambda: _connected(b, "CPA", True), 10)
            outcome = await reset_via(b, "CPA")
            assert (outcome["status"], outcome["reply"]) == ("accepted", {"status": "Accepted"})
            assert cp.received == [("Reset", {"type": "Soft"})]
            command = database.commands.find_one({"_id": outcome["command_id"]})
            assert (command["relay_from"], command["relay_to"], command["status"]) == (
                "B", "A", "accepted")  # fmt: skip
            assert command["relay_payload"] is None
            await cp.call(call.StatusNotification(
                connector_id=1, error_code="NoError", status="Charging"))  # fmt: skip
            event = await live.event_of("status", 10)
            assert (event["charger"], event["connector"], event["status"]) == (
                "CPA", 1, "Charging")  # fmt: skip
            acknowledged.append(await start(cp, 1, 1000))
            socket = cp._connection
            socket.transport.abort()  # the socket dies on A (no close handshake)
        async with ocpp_charge_point(c.url + "CPA", "CPA", Charger) as cp:
            await booted(cp)
            await until(lambda: _held_by(database, "CPA", "C"), 10)
            outcome = await reset_via(b, "CPA")
            assert (outcome["status"], outcome["reply"]) == ("accepted", {"status": "Accepted"})
            assert cp.received == [("Reset", {"type": "Soft"})]
            command = database.commands.find_one({"_id": outcome["command_id"]})
            assert (command["relay_to"], command["status"]) == ("C", "accepted")
            async with ocpp_charge_point(b.url + "CPA", "CPA", Charger) as second:
                await booted(second)  # on B: it takes the lease, C closes its socket
                await asyncio.wait_for(cp._connection.wait_closed(), 10)
                assert cp._connection.close_code == 4000
                assert await _held_by(database, "CPA", "B")
                await stop(second, acknowledged[0], 1500)
        async with ocpp_charge_point(a.url + "CPK", "CPK", Charger) as cp:
            await booted(cp)
            acknowledged.append(await start(cp, 1, 2000))
            await until(lambda: _connected(b, "CPK", True), 10)
            a.kill()
            took = await until(lambda: _connected(b, "CPK", False), LEASE_S + 5)
            # Lease time plus a renewal period (a third of it), plus the request's own time.
            assert took <= LEASE_S * 4 / 3 + 1.5, took
            print(f"offline {took:.2f} s after the SIGKILL (lease {LEASE_S:g} s)")
            with contextlib.suppress(Exception):
                await cp._connection.close()
        async with ocpp_charge_point(b.url + "CPK", "CPK", Charger) as cp:
            await booted(cp)
            assert (await charger_view(c, "CPK"))["connected"] is True
            await stop(cp, acknowledged[1], 2600)
    finally:
        live.close()
    stored = list(database.transactions.find({}).sort("_id", 1))
    assert [tx["_id"] for tx in stored] == sorted(acknowledged)
    assert len(set(acknowledged)) == 2
    assert [(tx["charger"], tx["meter_start"], tx["meter_stop"]) for tx in stored] == [
        ("CPA", 1000, 1500), ("CPK", 2000, 2600)]  # fmt: skip


async def _connected(server: ServerProcess, charger_id: str, wanted: bool) -> bool:
    return (await charger_view(server, charger_id))["connected"] is wanted


async def _held_by(database, charger_id: str, instance: str) -> bool:
    doc = database.chargers.find_one({"_id": charger_id}, {"holder": 1, "connected": 1})
    return bool(doc and doc.get("connected") and doc.get("holder") == instance)


def test_three_instances_share_chargers_commands_and_events(tmp_path):
    database = DatabaseProcess(tmp_path / "database")
    uri = database.start()
    servers = [
        ServerProcess(tmp_path / name, None, "--mongodb-uri", uri, "--instance-id", name,
                      "--lease-seconds", str(LEASE_S), "--cookie-secret", "shared-secret")
        for name in "ABC"
    ]  # fmt: skip
    try:
        for server in servers:  # one by one: the first creates the admin user
            server.start()
        asyncio.run(scenario(*servers, uri))
    finally:
        for server in servers:
            server.stop()
        assert database.stop() == 0
