"""The per-IP failure limiter of charger logins, with a fake clock."""

from __future__ import annotations

from handlers.chargepoint.admission import FailureLimiter


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
