"""The in-process event bus (csms.events): fan-out, unsubscribe, and a full queue that
loses events for its slow subscriber only."""

from __future__ import annotations

import logging

from csms.events import EventBus


def drain(queue) -> list[dict]:
    return [queue.get_nowait() for _ in range(queue.qsize())]


def test_every_subscriber_gets_every_event_in_order():
    bus = EventBus()
    first, second = bus.subscribe(), bus.subscribe()
    bus.publish("boot", "CP1", vendor="V", model="M")
    bus.publish("status", "CP2", connector=1, status="Charging")
    expected = [
        {"type": "boot", "charger": "CP1", "vendor": "V", "model": "M"},
        {"type": "status", "charger": "CP2", "connector": 1, "status": "Charging"},
    ]
    assert drain(first) == expected
    assert drain(second) == expected


def test_a_subscriber_gets_only_what_is_published_after_it_subscribed():
    bus = EventBus()
    early = bus.subscribe()
    bus.publish("boot", "CP1")
    late = bus.subscribe()
    bus.publish("heartbeat", "CP1")
    assert [e["type"] for e in drain(early)] == ["boot", "heartbeat"]
    assert drain(late) == [{"type": "heartbeat", "charger": "CP1"}]


def test_unsubscribed_queues_receive_nothing_more():
    bus = EventBus()
    stays, leaves = bus.subscribe(), bus.subscribe()
    bus.unsubscribe(leaves)
    bus.unsubscribe(leaves)  # twice is harmless
    bus.publish("boot", "CP1")
    assert leaves.empty()
    assert drain(stays) == [{"type": "boot", "charger": "CP1"}]


def test_publishing_without_subscribers_is_a_no_op():
    EventBus().publish("boot", "CP1", vendor="V")


def test_a_full_queue_drops_for_that_subscriber_only(caplog):
    bus = EventBus(queue_size=2)
    slow, fast = bus.subscribe(), bus.subscribe()
    with caplog.at_level(logging.WARNING, logger="csms.events"):
        for n in range(3):
            bus.publish("meter", "CP1", n=n)
            drain(fast)  # keeps up
    assert slow.maxsize == 2
    assert [e["n"] for e in drain(slow)] == [0, 1]  # the newest was dropped, not the oldest
    assert [r.getMessage() for r in caplog.records] == [
        "event queue full; dropping meter for a slow subscriber"
    ]
    bus.publish("meter", "CP1", n=3)  # room again
    assert drain(slow) == [{"type": "meter", "charger": "CP1", "n": 3}]


def test_the_relay_hears_local_events_once_and_delivered_ones_never():
    bus = EventBus()
    relayed = []
    bus.relay = relayed.append
    queue = bus.subscribe()
    bus.publish("status", "CP1", connector=1, status="Charging")
    bus.deliver({"type": "status", "charger": "CP9", "connector": 1, "status": "Faulted"})
    assert relayed == [{"type": "status", "charger": "CP1", "connector": 1, "status": "Charging"}]
    assert [queue.get_nowait()["charger"] for _ in range(2)] == ["CP1", "CP9"]
