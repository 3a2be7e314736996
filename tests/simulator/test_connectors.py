"""The connectors of a simulated charge point (simulator.connectors): availability rules,
sessions on connectors, StatusNotification payloads.

ChangeAvailability over the wire is in test_operations.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from simulator.connectors import AVAILABLE, UNAVAILABLE, Connectors, Session
from simulator.state import SessionInfo


def session(connector: int, transaction_id: int | None = None) -> Session:
    return Session(SessionInfo(connector, "TAG", transaction_id=transaction_id), authorize=False)


@pytest.fixture
def connectors():
    return Connectors(2, {1: 100, 2: 0})


def test_a_new_charge_point_is_available_everywhere(connectors):
    assert connectors.status == {0: AVAILABLE, 1: AVAILABLE, 2: AVAILABLE}
    assert [connectors.idle_status(c) for c in (0, 1, 2)] == [AVAILABLE] * 3
    assert connectors.free_connector() == 1
    assert connectors.registers == {1: 100, 2: 0}


def test_valid_connectors(connectors):
    assert [c for c in range(-1, 4) if connectors.valid(c)] == [1, 2]
    assert [c for c in range(-1, 4) if connectors.valid(c, allow_zero=True)] == [0, 1, 2]


@pytest.mark.parametrize("connector", [3, -1])
def test_availability_of_a_connector_that_does_not_exist_is_rejected(connectors, connector):
    assert connectors.change_availability(connector, False) == ("Rejected", [])
    assert all(connectors.operative.values())


def test_an_idle_outlet_goes_inoperative_at_once(connectors):
    assert connectors.change_availability(1, False) == ("Accepted", [1])
    assert (connectors.idle_status(1), connectors.idle_status(2)) == (UNAVAILABLE, AVAILABLE)
    assert connectors.free_connector() == 2
    assert connectors.change_availability(1, True) == ("Accepted", [1])
    assert connectors.idle_status(1) == AVAILABLE


def test_connector_0_switches_the_whole_charge_point(connectors):
    assert connectors.change_availability(0, False) == ("Accepted", [0, 1, 2])
    assert [connectors.idle_status(c) for c in (0, 1, 2)] == [UNAVAILABLE] * 3
    # The outlets keep their own setting; the charge point as a whole is what is off.
    assert (connectors.operative[1], connectors.is_operative(1)) == (True, False)
    assert connectors.free_connector() is None
    assert connectors.change_availability(0, True) == ("Accepted", [0, 1, 2])
    assert connectors.free_connector() == 1


def test_an_outlet_set_inoperative_stays_so_when_the_charge_point_comes_back(connectors):
    connectors.change_availability(2, False)
    connectors.change_availability(0, False)
    connectors.change_availability(0, True)
    assert (connectors.idle_status(1), connectors.idle_status(2)) == (AVAILABLE, UNAVAILABLE)


def test_inoperative_during_a_session_is_scheduled_until_it_ends(connectors):
    busy = session(1, transaction_id=5)
    connectors.reserve(busy)
    assert connectors.change_availability(1, False) == ("Scheduled", [])
    assert connectors.is_operative(1)  # the session goes on
    assert connectors.free_connector() == 2
    assert connectors.release(busy) is True  # the waiting request applies now
    assert busy.done.is_set()
    assert (1 in connectors.sessions, connectors.idle_status(1)) == (False, UNAVAILABLE)
    assert connectors.scheduled_inoperative == set()


def test_the_whole_charge_point_waits_for_its_busy_outlets(connectors):
    busy = session(2)
    connectors.reserve(busy)
    assert connectors.change_availability(0, False) == ("Scheduled", [0, 1])
    # The charge point's Inoperative waits for outlet 2, not an Inoperative of outlet 2.
    assert (connectors.waiting_for_cp, connectors.scheduled_inoperative) == ({2}, set())
    assert connectors.release(busy) is True
    assert connectors.idle_status(2) == UNAVAILABLE


def test_operative_again_cancels_a_scheduled_inoperative(connectors):
    busy = session(1)
    connectors.reserve(busy)
    connectors.change_availability(1, False)
    assert connectors.change_availability(1, True) == ("Accepted", [])
    assert connectors.release(busy) is False
    assert connectors.idle_status(1) == AVAILABLE


def test_one_session_per_connector_and_lookup_by_transaction(connectors):
    first = session(1, transaction_id=11)
    connectors.reserve(first)
    with pytest.raises(RuntimeError, match="connector 1 is busy"):
        connectors.reserve(session(1))
    connectors.reserve(second := session(2, transaction_id=12))
    assert connectors.by_transaction(12) is second
    assert connectors.by_transaction(99) is None
    assert connectors.free_connector() is None


def test_releasing_a_session_that_was_replaced_leaves_the_new_one(connectors):
    old = session(1)
    connectors.reserve(old)
    connectors.release(old)
    new = session(1)
    connectors.reserve(new)
    assert connectors.release(old) is False
    assert connectors.sessions == {1: new}


def test_status_payload_is_remembered(connectors):
    when = datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert connectors.status_payload(1, "Preparing", when) == {
        "connectorId": 1, "errorCode": "NoError", "status": "Preparing",
        "timestamp": "2026-01-01T10:00:00.123Z",
    }  # fmt: skip
    assert connectors.status[1] == "Preparing"


def test_a_session_stops_for_its_first_reason_and_reads_no_meter_before_starting():
    running = session(1)
    assert running.reading(10.0) is None
    running.request_stop("Remote")
    running.request_stop("Local")
    assert running.stop_reason == "Remote" and running.wake.is_set()


@pytest.mark.gen_test
async def test_waiters_wake_on_an_availability_change(connectors):
    waiter = asyncio.ensure_future(connectors.wait_changed())
    await asyncio.sleep(0)
    assert not waiter.done()
    connectors.change_availability(2, False)
    await asyncio.wait_for(waiter, 5)
    later = asyncio.ensure_future(connectors.wait_changed())  # a fresh event for the next one
    await asyncio.sleep(0)
    assert not later.done()
    later.cancel()


# Found by this test: a charge-point-wide Inoperative (connector 0) that had to wait for a
# session was applied, when the session ended, as that outlet's own Inoperative, so a later
# charge-point-wide Operative left the outlet Unavailable for ever.
def test_operative_for_the_charge_point_restores_an_outlet_it_waited_for(connectors):
    busy = session(2)
    connectors.reserve(busy)
    assert connectors.change_availability(0, False) == ("Scheduled", [0, 1])
    assert connectors.release(busy) is True
    assert connectors.idle_status(2) == UNAVAILABLE  # right: the charge point is Inoperative
    assert connectors.change_availability(0, True) == ("Accepted", [0, 1, 2])
    assert [connectors.idle_status(c) for c in (0, 1, 2)] == [AVAILABLE] * 3
