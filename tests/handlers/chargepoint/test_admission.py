"""The per-IP failure limiter of charger logins, with a fake clock."""

from __future__ import annotations

import pytest

from csms.services import CsmsSettings
from handlers.chargepoint.admission import FailureLimiter
from handlers.chargepoint.limits import KeyedBuckets, LimitSettings
from ocppj.timeutil import utcnow
from tests.charge_points import raw_charger
from tests.handlers.chargepoint.test_admission_basic import refused


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_blocks_after_n_failures_until_the_oldest_leaves_the_window():
    clock = Clock()
    limiter = FailureLimiter(3, 60.0, 100, clock)
    for _ in range(2):
        limiter.failure("10.0.0.1")
        clock.now += 1
    assert limiter.retry_after("10.0.0.1") is None
    limiter.failure("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 58
    assert limiter.retry_after("10.0.0.2") is None
    clock.now += 57.5
    assert limiter.retry_after("10.0.0.1") == 1
    clock.now += 1
    assert limiter.retry_after("10.0.0.1") is None
    limiter.failure("10.0.0.1")  # the 2nd and 3rd are still in the window
    assert limiter.retry_after("10.0.0.1") == 1


def test_limiter_memory_is_bounded_least_recent_ip_first():
    clock = Clock()
    limiter = FailureLimiter(2, 60.0, 3, clock)
    for ip in ("a", "b", "c"):
        limiter.failure(ip)
    limiter.failure("a")  # a is now the most recent
    limiter.failure("d")  # b goes
    assert len(limiter) == 3
    assert limiter.retry_after("a") == 60
    limiter.failure("b")
    assert limiter.retry_after("b") is None  # forgotten: counting from 1 again
    assert len(limiter._failures["b"]) == 1


def test_limiter_off_with_zero():
    limiter = FailureLimiter(0, 60.0, 10)
    for _ in range(100):
        limiter.failure("a")
    assert limiter.retry_after("a") is None
    assert len(limiter) == 0


def test_registration_buckets_per_ip_and_in_all():
    clock = Clock()
    buckets = KeyedBuckets(rate=0.5, burst=2, total_rate=1.0, total_burst=3, max_keys=2,
                           clock=clock)  # fmt: skip
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == 2.0  # a's bucket: one token in 2 s
    assert buckets.take("b") == 0.0
    assert buckets.take("c") == 1.0  # the total is spent: one token in 1 s
    clock.now += 1.0
    assert buckets.take("c") == 0.0
    assert len(buckets._buckets) == 2  # bounded: "a" was forgotten


# Issue 21: one IP registered 5,001 unknown charger ids in 74 s.
@pytest.mark.gen_test
@pytest.mark.parametrize("limits", [LimitSettings(registration_rate_per_ip=0.001,
                                                  registration_burst_per_ip=3)])  # fmt: skip
async def test_unknown_ids_over_the_registration_rate_are_listed_not_registered(limits, ws_url,
                                                                                  db):  # fmt: skip
    for number in range(3):
        async with raw_charger(ws_url(f"/N{number}/")) as cp:
            assert (await cp.boot())[0] == 3
    response = await refused(ws_url("/N3/"))
    assert response.status_code == 429
    assert response.body == b"too many new chargers; retry later"
    assert response.headers["Retry-After"] == "1000"
    assert sorted(d["_id"] for d in await db.chargers.find().to_list()) == ["N0", "N1", "N2"]
    entry = await db.unknown_chargers.find_one({"_id": "N3"})
    assert (entry["ip"], entry["attempts"], entry["path"]) == ("127.0.0.1", 1, "/N3/")
    # Another address has its own bucket; known chargers are not counted.
    async with raw_charger(ws_url("/M1/"), local_addr=("127.0.0.2", 0)) as cp:
        assert (await cp.boot())[0] == 3
    async with raw_charger(ws_url("/N0/")) as cp:
        assert (await cp.boot())[0] == 3


@pytest.mark.gen_test
@pytest.mark.parametrize("settings", [CsmsSettings(heartbeat_interval=120, flush_interval=0.02,
                                                   default_security_profile=1)])  # fmt: skip
async def test_default_security_profile_applies_to_new_chargers(ws_url, db, services, settings):
    async with raw_charger(ws_url("/DP1/")) as cp:  # registered on its first connection
        assert (await cp.boot())[0] == 3
    assert (await db.chargers.find_one({"_id": "DP1"}))["security"] == {"profile": 1}
    assert (await refused(ws_url("/DP1/"))).status_code == 401  # now it needs its key
    await services.chargers.create("DP2", {}, utcnow())
    assert (await db.chargers.find_one({"_id": "DP2"}))["security"] == {"profile": 1}
