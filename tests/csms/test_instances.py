"""Multi-instance mode in one process: who holds which charger (a takeover closes the
local socket with 4000), relayed commands run by the holder, other instances' events
delivered once, and load management deciding only with the site's lease.

The streams themselves need a replica set: tests/chaos/test_instances.py runs them
with three server processes.
"""

from __future__ import annotations

import pytest

from csms.instances import Instances, InstanceSettings
from models.commands import new_command
from models.leases import LeaseRepo
from ocppj import frames
from ocppj.timeutil import utcnow
from tests.csms.test_load_management import Board, chargers, make_site, start, until
from tests.csms.test_registry import ScriptedConnection


def holder_change(charger_id: str, connected: bool, holder: str | None) -> dict:
    """A change of the chargers stream as MongoDB delivers it (full document looked up)."""
    doc = {"_id": charger_id, "connected": connected, "holder": holder}
    return {"documentKey": {"_id": charger_id}, "operationType": "update", "fullDocument": doc}


@pytest.fixture
def instances(services, registry):
    """Instance "A" wired into the services and the registry (its streams not started)."""
    built = Instances(services, registry, InstanceSettings("A", lease_s=6))
    built.attach()
    return built


def test_a_charger_connected_to_another_instance_is_closed_here_with_4000(instances, registry):
    local = ScriptedConnection()
    registry.register("CP1", local)
    instances._holder_changed(holder_change("CP1", True, "A"))  # its own connection
    assert local.closed is None and instances.remote == {}
    instances._holder_changed(holder_change("CP1", True, "B"))
    assert local.closed == (4000, "replaced by a connection on B")
    assert instances.remote == {"CP1": "B"} and instances.taken_over == 1


def test_chargers_held_elsewhere_count_as_connected_until_their_lease_ends(instances, registry):
    assert "CP9" not in registry
    instances._holder_changed(holder_change("CP9", True, "B"))
    assert "CP9" in registry and registry.ids() == []  # connected, but not here
    instances._holder_changed(holder_change("CP9", False, "B"))  # B's lease expired
    assert "CP9" not in registry


@pytest.mark.gen_test
async def test_a_relayed_command_is_sent_here_and_its_outcome_stored(registry, db):
    connection = ScriptedConnection(frames.CallResult("", {"status": "Accepted"}))
    registry.register("CP1", connection)
    doc = new_command("cmd-1", "CP1", "Reset", {"type": "Soft"}, utcnow(), requested_by="op")
    doc |= {"relay_from": "B", "relay_to": "A", "relay_payload": {"type": "Soft"}}
    await db.commands.insert_one(doc)
    outcome = await registry.run_stored(dict(doc), {"type": "Soft"}, timeout=5)
    assert (outcome.status, outcome.payload, outcome.command_id) == (
        "accepted", {"status": "Accepted"}, "cmd-1")  # fmt: skip
    assert connection.sent == [[2, "cmd-1", "Reset", {"type": "Soft"}]]
    stored = await db.commands.find_one({"_id": "cmd-1"})
    assert (stored["status"], stored["reply"], stored["relay_payload"]) == (
        "accepted", {"status": "Accepted"}, None)  # fmt: skip
    assert stored["requested_by"] == "op" and stored["sent_ts"] is not None


@pytest.mark.gen_test
async def test_other_instances_events_reach_the_bus_and_are_not_recorded_again(instances, services):
    queue = services.bus.subscribe()
    event = {"type": "status", "charger": "CP7", "connector": 1, "status": "Charging"}
    instances._event_arrived({"operationType": "insert",
                              "fullDocument": {"instance": "B", "event": event}})  # fmt: skip
    assert queue.get_nowait() == event
    assert instances.events.writer.pending == 0
    services.bus.publish("status", "CP1", connector=1, status="Available")
    assert instances.events.writer.pending == 1  # a local one is, for the others


@pytest.mark.gen_test(timeout=60)
async def test_only_the_instance_holding_the_site_lease_decides(ws_url, services, db):
    leases = LeaseRepo(db)
    assert await leases.acquire("site:S1", "B", utcnow(), 600)
    asked: list[str] = []

    async def gate(root: str) -> bool:
        asked.append(root)
        return await leases.acquire(f"site:{root}", "A", utcnow(), 600)

    services.load.gate = gate
    board = Board(32)
    async with chargers(ws_url, board, ["CPS"]) as cps:
        await make_site(services, chargers=["CPS"])
        await start(cps["CPS"], board)
        await until(lambda: "S1" in asked)
        await services.load.idle()
        assert (board.log, board.defaults) == ([], {})  # B decides S1: nothing from here
        assert await services.allocations.latest("S1") is None
        await leases.release("site:S1", "B")  # B is gone
        services.load.site_changed("S1")
        await until(lambda: board.limit_of("CPS") == 32)
    assert (await leases.get("site:S1"))["holder"] == "A"
