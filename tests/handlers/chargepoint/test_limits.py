"""Limit helpers: token bucket, message-rate decisions, connection cap, idle timer, settings."""

from __future__ import annotations

import asyncio
import gc

import pytest

from handlers.chargepoint.limits import (
    CLOSE,
    REFUSE,
    THROTTLE,
    ConnectionCap,
    IdleTimer,
    LimitSettings,
    MessageRate,
    TokenBucket,
    sampled_values,
)
from ocppj import frames


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate():
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.25) is False
    assert bucket.take(0.5) is True
    assert bucket.take(100.0) and bucket.take(100.0) and bucket.take(100.0)
    assert not bucket.take(100.0)  # never more than the burst saved up


def test_bucket_reserve_returns_the_wait_for_the_next_token():
    bucket = TokenBucket(rate=4.0, burst=1, now=0.0)
    assert bucket.take(0.0)
    assert bucket.reserve(0.0) == pytest.approx(0.25)
    assert not bucket.take(0.2)  # the reserved token is spent
    assert bucket.take(0.5)


def test_message_rate_decisions():
    clock = Clock()
    limits = LimitSettings(message_rate=1.0, message_burst=2, rate_close_after=2,
                           rate_close_window=10.0)  # fmt: skip
    rate = MessageRate(limits, clock)
    assert rate.allow() and rate.allow()
    assert not rate.allow()
    assert rate.excess("MeterValues") == THROTTLE
    assert rate.excess("StopTransaction") == THROTTLE
    assert rate.excess("Heartbeat") == REFUSE
    assert rate.excess(None) == REFUSE
    assert rate.excess("Heartbeat") == CLOSE
    assert rate.refused == 3
    clock.now += 10.0  # a new window: refusals counted from zero again
    assert rate.excess("Heartbeat") == REFUSE
    assert rate.allow()


def test_message_rate_never_closes_with_zero():
    rate = MessageRate(LimitSettings(message_rate=1.0, message_burst=1, rate_close_after=0))
    assert all(rate.excess("Heartbeat") == REFUSE for _ in range(1000))


def test_connection_cap():
    cap = ConnectionCap(2)

    class Holder:
        pass

    first, second, third = Holder(), Holder(), Holder()
    assert cap.acquire(first) and cap.acquire(second)
    assert cap.acquire(first)  # already holding
    assert not cap.acquire(third)
    assert cap.refused == 1
    cap.release(first)
    cap.release(first)
    assert cap.acquire(third)
    assert len(cap) == 2
    del second
    gc.collect()
    assert len(cap) == 1  # a dropped holder cannot leak its slot


def test_connection_cap_off_with_zero():
    cap = ConnectionCap(0)
    holders = [object.__new__(type("H", (), {})) for _ in range(50)]
    assert all(cap.acquire(holder) for holder in holders)


def test_idle_timer_fires_only_after_a_quiet_period():
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        start = loop.time()
        timer = IdleTimer(0.2, lambda: fired.append(loop.time() - start))
        timer.start()
        for _ in range(4):  # activity every 0.1 s for 0.4 s
            await asyncio.sleep(0.1)
            timer.touch()
        assert fired == []
        await asyncio.sleep(0.35)
        timer.cancel()
        return fired

    fired = asyncio.run(scenario())
    assert len(fired) == 1 and 0.55 <= fired[0] < 0.8


def test_idle_timer_cancel_and_zero():
    async def scenario() -> list[int]:
        fired: list[int] = []
        timer = IdleTimer(0.05, lambda: fired.append(1))
        timer.start()
        timer.cancel()
        off = IdleTimer(0, lambda: fired.append(2))
        off.start()
        await asyncio.sleep(0.15)
        return fired

    assert asyncio.run(scenario()) == []


def test_settings_defaults_and_derived_values():
    limits = LimitSettings()
    assert limits.idle_seconds(300) == 960.0
    assert limits.idle_seconds(0) == 0.0
    assert LimitSettings(idle_timeout=0).idle_seconds(300) == 0.0
    assert LimitSettings(idle_timeout=45).idle_seconds(300) == 45.0
    assert limits.http_server_kwargs() == {"idle_connection_timeout": 10.0,
                                           "max_header_size": 16384, "body_timeout": 15.0,
                                           "max_body_size": 65536}  # fmt: skip
    assert limits.max_connections > 0 and limits.message_rate > 0 and limits.auth_failures > 0
    assert limits.charger_origins == ()


def test_sampled_values_are_counted_in_the_parsed_frame():
    two = {"timestamp": "2025-01-01T00:00:00Z", "sampledValue": [{"value": "1"}, {"value": "2"}]}
    one = {"timestamp": "2025-01-01T00:00:01Z", "sampledValue": [{"value": "3"}]}
    meter = frames.Call("m1", "MeterValues", {"connectorId": 1, "meterValue": [two, one]})
    assert sampled_values(meter) == 3
    stop = frames.Call("s1", "StopTransaction", {"transactionId": 1, "transactionData": [one]})
    assert sampled_values(stop) == 1
    # Not counted: other actions, other frames, and shapes the schema will refuse.
    assert sampled_values(frames.Call("h1", "Heartbeat", {"meterValue": [two]})) is None
    assert sampled_values(frames.CallResult("m1", {"meterValue": [two]})) is None
    assert sampled_values(frames.FrameError("FormationViolation", "not JSON")) is None
    assert sampled_values(frames.Call("m2", "MeterValues", {"meterValue": "x"})) is None
    odd = {"meterValue": [7, {"sampledValue": "x"}, two]}
    assert sampled_values(frames.Call("m3", "MeterValues", odd)) == 2
