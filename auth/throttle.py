"""Failed logins of operators, per IP and per user name: beyond a limit within a window
the next attempt is refused (429 with Retry-After) until the oldest failure ages out."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailureWindow:
    """The last ``limit`` failure times of at most ``max_keys`` keys (least recently failing
    forgotten first); ``limit`` 0 is off."""

    def __init__(self, limit: int, window: float, max_keys: int, clock: Callable[[], float]):
        self.limit = limit
        self.window = window
        self.max_keys = max(1, max_keys)
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until ``key`` may try again, or None when it may now."""
        stamps = self._failures.get(key)
        if not self.limit or stamps is None or len(stamps) < self.limit:
            return None
        wait = stamps[0] + self.window - self.clock()
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failure(self, key: str) -> None:
        """Count one failure of ``key``."""
        if not self.limit:
            return
        stamps = self._failures.get(key)
        if stamps is None:
            stamps = self._failures[key] = deque(maxlen=self.limit)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(key)
        stamps.append(self.clock())


class LoginThrottle:
    """Operator logins (form and HTTP Basic alike): failures counted per IP and per user
    name; one Application holds one."""

    def __init__(
        self, per_ip: int, per_user: int, window: float, max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):  # fmt: skip
        self.ips = FailureWindow(per_ip, window, max_keys, clock)
        self.users = FailureWindow(per_user, window, max_keys, clock)

    def retry_after(self, ip: str, username: str | None) -> int | None:
        """Seconds to wait before this IP may try (this user), or None."""
        waits = [self.ips.retry_after(ip)]
        if username:
            waits.append(self.users.retry_after(username.casefold()))
        known = [wait for wait in waits if wait is not None]
        return max(known) if known else None

    def failure(self, ip: str, username: str | None) -> None:
        """Count a failed login of ``username`` (None: e.g. a wrong token) from ``ip``."""
        self.ips.failure(ip)
        if username:
            self.users.failure(username.casefold())
