"""Heartbeats at the interval the Central System gave in BootNotification.conf."""

from __future__ import annotations

import pytest

from csms.services import CsmsSettings
from simulator import ChargePointSimulator
from tests.simulator.helpers import sim_config, started, wait_for


@pytest.fixture
def settings():
    """A one-second heartbeat interval for this module."""
    return CsmsSettings(heartbeat_interval=1, flush_interval=0.02)


@pytest.mark.gen_test(timeout=30)
async def test_heartbeats_follow_the_boot_interval(http_server, http_port, registry, services, db):
    sim = ChargePointSimulator(sim_config(http_port, "HB1/", auto_start=False))
    async with started(sim):
        assert sim.state.heartbeat_interval == 1
        assert await wait_for(lambda: sim.state.heartbeats_sent >= 2, 5)
        await services.flush()
        charger = await db.chargers.find_one({"_id": "HB1"})
        assert charger["last_heartbeat"] is not None
        # A longer HeartbeatInterval takes effect at once: no heartbeat in the next second.
        outcome = await registry.call(
            "HB1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}
        )
        assert outcome.ok
        sent = sim.state.heartbeats_sent
        assert not await wait_for(lambda: sim.state.heartbeats_sent > sent, 1.5)
    await services.flush()
    beats = await db.messages.count_documents(
        {"charger": "HB1", "direction": "in", "action": "Heartbeat"}
    )
    assert beats == sim.state.heartbeats_sent
