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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocppj import frames

# Charger CALLs that carry billing or audit data: over the rate they are delayed (the
# socket is simply read more slowly), never refused, because a CALLERROR makes a charger
# retry and finally drop them (OCPP_RULES 15) and SecurityEventNotification is always
# confirmed (OCPP_RULES 22).
THROTTLED_ACTIONS = frozenset(
    {"StartTransaction", "StopTransaction", "MeterValues", "SecurityEventNotification"}
)
IDLE_MARGIN = 60.0
# Where a CALL carries sampled values (each is stored, inside its reading's measurement).
SAMPLED_VALUES_IN = {"MeterValues": "meterValue", "StopTransaction": "transactionData"}


def sampled_values(frame: Any) -> int | None:
    """The number of sampled values of a MeterValues or StopTransaction CALL (a parsed
    ``frames.Call``); None for any other frame. The frame is the one the session handles:
    it is parsed once per message, not once here and again there."""
    if not isinstance(frame, frames.Call):
        return None
    key = SAMPLED_VALUES_IN.get(frame.action)
    readings = frame.payload.get(key) if key else None
    if not isinstance(readings, list):
        return None
    return sum(
        len(reading["sampledValue"]) for reading in readings
        if isinstance(reading, dict) and isinstance(reading.get("sampledValue"), list)
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Tunables of the charger route; the defaults are safe for a public server.

    ``0`` switches a limit off (``idle_timeout=None`` derives it from the heartbeat).
    """

    # Open charger connections (including handshakes in progress); 503 beyond.
    max_connections: int = 10_000
    # ... of them from one IP (as admission sees it: X-Forwarded-For only behind our own
    # proxy); 503 beyond. A tenth of the cap: a depot or a carrier-grade NAT of cellular
    # chargers shows many chargers behind one address, yet one IP cannot take every slot.
    max_connections_per_ip: int = 1_000
    # Seconds a 503 asks the charger to wait.
    busy_retry_after: int = 30
    # Handshakes (admission and the connection record) in progress at once; the others
    # wait in order of arrival (``handshakes.HandshakeQueue``; 0: no bound).
    max_handshakes: int = 128
    # No frame from the charger for this long: close (1001). None: 3 x heartbeat + 60 s.
    idle_timeout: float | None = None
    # Frames per second a connection may send on average, and the burst it may send at once.
    message_rate: float = 20.0
    message_burst: int = 100
    # Sampled values (MeterValues meterValue[].sampledValue[], StopTransaction
    # transactionData) a connection may send per second on average, and at once: each
    # becomes a document, so they are metered like frames (over the rate: delayed).
    sample_rate: float = 200.0
    sample_burst: int = 2_000
    # Sampled values in one frame; beyond: CALLERROR OccurenceConstraintViolation. Ten
    # readings of 25 measurands on 4 phases fit.
    max_sampled_values: int = 1_000
    # Frames refused for the rate within ``rate_close_window`` seconds before closing (1008).
    rate_close_after: int = 50
    rate_close_window: float = 10.0
    # Failed authentications per IP within ``auth_failure_window`` before 429.
    auth_failures: int = 20
    auth_failure_window: float = 60.0
    # IPs whose failures are remembered (least recently failing forgotten first).
    auth_tracked_ips: int = 10_000
    # Auto-registration of unknown charger ids: per IP (a token bucket: ``burst`` at once,
    # then ``rate`` per second) and for the whole server; beyond: 429, listed as unknown.
    # One IP may bring a depot of 100 new chargers at once (or the simulator's 50), and a
    # new fleet of 10,000 registers in about 15 minutes; one IP that tried 5,001 ids in
    # 74 s now gets 174 registered, and every IP together at most 10 a second.
    registration_rate_per_ip: float = 1.0
    registration_burst_per_ip: int = 100
    registration_rate: float = 10.0
    registration_burst: int = 1000
    # The sink (/ws/sink/): its own connection caps and frame rate (over it: read slower).
    sink_max_connections: int = 20
    sink_max_connections_per_ip: int = 2
    sink_message_rate: float = 2.0
    sink_message_burst: int = 10
    # HTTP server: seconds to receive the request headers, and their maximum size.
    header_timeout: float = 10.0
    max_header_size: int = 16 * 1024
    # Seconds to receive a request body, and its maximum size (413 beyond).
    body_timeout: float = 15.0
    max_body_size: int = 64 * 1024
    # Open TCP connections of every kind (HTTP, WebSocket, TLS): in all (bounded by the
    # file descriptor limit at start) and per socket peer IP; closed at once beyond.
    max_open_sockets: int = 12_000
    max_open_sockets_per_ip: int = 1_100
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
            "body_timeout": self.body_timeout or None,
            "max_body_size": self.max_body_size,
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

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if they are there."""
        self._refill(now)
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def reserve(self, now: float, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens even if they are not there yet; the seconds until they are."""
        self._refill(now)
        self.tokens -= cost
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def wait(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there (0: now), spending nothing."""
        self._refill(now)
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate


class KeyedBuckets:
    """A token bucket per key (an IP) plus one for all keys: ``take(key)`` spends from both
    or from neither. Memory is bounded: at most ``max_keys`` buckets, the least recently
    used forgotten first (a forgotten key starts full again). ``rate`` 0: no limit."""

    def __init__(
        self, rate: float, burst: int, total_rate: float, total_burst: int, max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ):  # fmt: skip
        self.rate, self.burst, self.max_keys, self.clock = rate, burst, max(1, max_keys), clock
        self.total = TokenBucket(total_rate, total_burst, clock()) if total_rate > 0 else None
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Spend a token of ``key`` and of the total: 0.0 when done, else the seconds until
        one is there (nothing spent)."""
        now = self.clock()
        bucket = None
        if self.rate > 0:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
                while len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
        waits = [b.wait(now) for b in (bucket, self.total) if b is not None]
        if any(waits):
            return max(waits)
        for b in (bucket, self.total):
            if b is not None:
                b.take(now)
        return 0.0


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

    __slots__ = ("bucket", "clock", "close_after", "refusals", "refused", "samples")

    def __init__(self, limits: LimitSettings, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.bucket = TokenBucket(limits.message_rate, limits.message_burst, clock())
        self.samples = (
            TokenBucket(limits.sample_rate, limits.sample_burst, clock())
            if limits.sample_rate > 0 else None
        )  # fmt: skip
        self.close_after = limits.rate_close_after
        self.refusals = WindowCounter(limits.rate_close_window)
        self.refused = 0

    def allow(self) -> bool:
        """Spend a token for a frame; False when the frame is over the rate."""
        return self.bucket.take(self.clock())

    def sample_delay(self, values: int) -> float:
        """Spend ``values`` sampled-value tokens; the seconds to wait before handling the
        frame (0: at once). Never refuses: the frame is delayed."""
        if self.samples is None or values <= 0:
            return 0.0
        return self.samples.reserve(self.clock(), min(values, self.samples.burst))

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
    """At most ``limit`` connections at once, and ``per_ip`` of them from one IP (0: no
    cap).

    A connection holds a slot from the admission checks until it closes. Slots are kept
    in WeakSets of the handlers, so a handler that is dropped on a path that never
    releases (an aborted handshake) cannot leak its slot for ever.
    """

    def __init__(self, limit: int, per_ip: int = 0):
        self.limit = limit
        self.per_ip = per_ip
        self.refused = 0
        self._holders: weakref.WeakSet[Any] = weakref.WeakSet()
        self._by_ip: dict[str, weakref.WeakSet[Any]] = {}
        self._ip_of: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        return len(self._holders)

    def count(self, ip: str) -> int:
        """Slots held by ``ip``."""
        holders = self._by_ip.get(ip)
        return len(holders) if holders is not None else 0

    def acquire(self, holder: Any, ip: str = "") -> bool:
        """Take a slot for ``holder`` from ``ip``; False when a cap is reached."""
        if holder in self._holders:
            return True
        over_ip = self.per_ip and self.count(ip) >= self.per_ip
        if over_ip or (self.limit and len(self._holders) >= self.limit):
            self.refused += 1
            return False
        self._holders.add(holder)
        if self.per_ip:
            self._by_ip.setdefault(ip, weakref.WeakSet()).add(holder)
            self._ip_of[holder] = ip
        return True

    def release(self, holder: Any) -> None:
        """Give the slot back (idempotent)."""
        if holder not in self._holders:
            return
        self._holders.discard(holder)
        ip = self._ip_of.pop(holder, None)
        holders = self._by_ip.get(ip) if ip is not None else None
        if holders is not None:
            holders.discard(holder)
            if not holders:
                del self._by_ip[ip]


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
