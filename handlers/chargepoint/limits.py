"""Limits on charger connections (OCPP_RULES 23): the settings, a token bucket for the
per-connection message rate, a cap on open connections and an idle timer.

Everything here is an object owned by the Application settings or by one connection;
nothing is kept at module level. Clocks are passed in (``time.monotonic`` by default) so
the arithmetic is testable without sleeping.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Charger CALLs that carry billing or audit data: over the rate they are delayed (the
# socket is simply read more slowly), never refused, because a CALLERROR makes a charger
# retry and finally drop them (OCPP_RULES 15) and SecurityEventNotification is always
# confirmed (OCPP_RULES 22).
THROTTLED_ACTIONS = frozenset(
    {"StartTransaction", "StopTransaction", "MeterValues", "SecurityEventNotification"}
)
IDLE_MARGIN = 60.0


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Tunables of the charger route; the defaults are safe for a public server.

    ``0`` switches a limit off (``idle_timeout=None`` derives it from the heartbeat).
    """

    # Open charger connections (including handshakes in progress); 503 beyond.
    max_connections: int = 10_000
    # Seconds a 503 asks the charger to wait.
    busy_retry_after: int = 30
    # No frame from the charger for this long: close (1001). None: 3 x heartbeat + 60 s.
    idle_timeout: float | None = None
    # Frames per second a connection may send on average, and the burst it may send at once.
    message_rate: float = 20.0
    message_burst: int = 100
    # Frames refused for the rate within ``rate_close_window`` seconds before closing (1008).
    rate_close_after: int = 50
    rate_close_window: float = 10.0
    # Failed authentications per IP within ``auth_failure_window`` before 429.
    auth_failures: int = 20
    auth_failure_window: float = 60.0
    # IPs whose failures are remembered (least recently failing forgotten first).
    auth_tracked_ips: int = 10_000
    # HTTP server: seconds to receive the request headers, and their maximum size.
    header_timeout: float = 10.0
    max_header_size: int = 16 * 1024
    # Origin header values accepted on the charger route (browsers are refused: empty).
    charger_origins: tuple[str, ...] = ()

    def idle_seconds(self, heartbeat_interval: float) -> float:
        """The idle timeout in effect (0: off), given the heartbeat interval we announce."""
        if self.idle_timeout is None:
            return 3 * heartbeat_interval + IDLE_MARGIN if heartbeat_interval > 0 else 0.0
        return max(0.0, self.idle_timeout)

    def http_server_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Application.listen`` / ``HTTPServer``.

        ``idle_connection_timeout`` is also Tornado's header timeout: a client that opens a
        socket and sends its headers slowly (slowloris) is dropped after it.
        """
        return {
            "idle_connection_timeout": self.header_timeout or None,
            "max_header_size": self.max_header_size,
        }


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; one token per frame."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float):
        self.rate = rate
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> bool:
        """Spend a token if there is one."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def reserve(self, now: float) -> float:
        """Spend a token even if it is not there yet; return the seconds until it is."""
        self._refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class WindowCounter:
    """Counts events in fixed windows of ``window`` seconds (cheap: two numbers)."""

    __slots__ = ("count", "start", "window")

    def __init__(self, window: float):
        self.window = window
        self.start = float("-inf")
        self.count = 0

    def add(self, now: float) -> int:
        """Count one event; return how many fell into the current window."""
        if now - self.start >= self.window:
            self.start, self.count = now, 0
        self.count += 1
        return self.count


THROTTLE = "throttle"
REFUSE = "refuse"
CLOSE = "close"


class MessageRate:
    """The per-connection message rate: a token bucket plus a count of refusals.

    ``allow`` spends a token per frame. A frame that finds none is *excess*, and
    ``excess(action)`` decides: transaction data (``THROTTLED_ACTIONS``) is THROTTLE-d (the
    caller waits ``reserve()`` seconds, then handles it: the socket is read more slowly,
    nothing is lost), anything else is REFUSE-d; once more than ``close_after`` frames
    were refused within ``close_window`` seconds the answer is CLOSE (sustained abuse).
    """

    __slots__ = ("bucket", "clock", "close_after", "refusals", "refused")

    def __init__(self, limits: LimitSettings, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.bucket = TokenBucket(limits.message_rate, limits.message_burst, clock())
        self.close_after = limits.rate_close_after
        self.refusals = WindowCounter(limits.rate_close_window)
        self.refused = 0

    def allow(self) -> bool:
        """Spend a token for a frame; False when the frame is over the rate."""
        return self.bucket.take(self.clock())

    def excess(self, action: str | None) -> str:
        """What to do with a frame over the rate (``action``: the CALL's, else None)."""
        if action in THROTTLED_ACTIONS:
            return THROTTLE
        self.refused += 1
        if self.close_after and self.refusals.add(self.clock()) > self.close_after:
            return CLOSE
        return REFUSE

    def reserve(self) -> float:
        """Take the next token ahead of time; the seconds to wait for it."""
        return self.bucket.reserve(self.clock())


class ConnectionCap:
    """At most ``limit`` charger connections at once (0: no cap).

    A connection holds a slot from the admission checks until it closes. Slots are kept
    in a WeakSet of the handlers, so a handler that is dropped on a path that never
    releases (an aborted handshake) cannot leak its slot for ever.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.refused = 0
        self._holders: weakref.WeakSet[Any] = weakref.WeakSet()

    def __len__(self) -> int:
        return len(self._holders)

    def acquire(self, holder: Any) -> bool:
        """Take a slot for ``holder``; False when the cap is reached."""
        if self.limit and len(self._holders) >= self.limit and holder not in self._holders:
            self.refused += 1
            return False
        self._holders.add(holder)
        return True

    def release(self, holder: Any) -> None:
        """Give the slot back (idempotent)."""
        self._holders.discard(holder)


class IdleTimer:
    """Calls ``on_idle`` once nothing was ``touch``-ed for ``timeout`` seconds.

    ``touch`` only stores the time; the single pending timer re-arms itself for the
    remaining time when it fires early, so a busy connection costs no timer churn.
    """

    __slots__ = ("_handle", "clock", "last", "on_idle", "timeout")

    def __init__(
        self, timeout: float, on_idle: Callable[[], None], clock: Callable[[], float] | None = None
    ):
        self.timeout = timeout
        self.on_idle = on_idle
        self.clock = clock or asyncio.get_running_loop().time
        self.last = self.clock()
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Arm the timer (does nothing when the timeout is 0)."""
        if self.timeout > 0:
            self.last = self.clock()
            self._arm(self.timeout)

    def _arm(self, delay: float) -> None:
        self._handle = asyncio.get_running_loop().call_later(delay, self._fire)

    def touch(self) -> None:
        """Something arrived: the idle period starts again."""
        self.last = self.clock()

    def _fire(self) -> None:
        self._handle = None
        remaining = self.last + self.timeout - self.clock()
        if remaining > 0:
            self._arm(remaining)
            return
        self.on_idle()

    def cancel(self) -> None:
        """Stop the timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
