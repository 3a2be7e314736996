"""Prometheus metrics of the Central System (``prometheus_client``).

One ``Metrics`` object per Services, with its own ``CollectorRegistry`` (never the
library's global default registry: several applications may run in one process).

On the message path the cost is a dict look-up and an ``inc``/``observe`` on a label
child bound once per (action, result); nothing is formatted per message. Label values
are bounded: actions are the OCPP 1.6 ones (anything else is ``unknown``), results are
``CALLRESULT`` or a CALLERROR code, refusals a fixed set of reasons. No charger id is a
label unless ``per_charger`` (``--metrics-per-charger``, for small networks).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CALLRESULT = "CALLRESULT"
UNKNOWN_ACTION = "unknown"
# Seconds; OCPP handlers mostly wait for the database.
# Few buckets: each is a series per action (11 series per action with +Inf, sum, count).
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
LOOP_LAG_INTERVAL = 0.5
# HTTP status of a refused charger connection -> the reason label.
REFUSAL_REASONS = {
    400: "bad_charger_id", 401: "unauthorized", 403: "forbidden", 404: "unknown_charger",
    429: "too_many_failures", 503: "capacity",
}  # fmt: skip


class Metrics:
    """Every instrument, registered in ``self.registry``."""

    def __init__(self, per_charger: bool = False):
        self.registry = registry = CollectorRegistry(auto_describe=False)
        self.per_charger = per_charger
        self.connected = Gauge(
            "csms_connected_chargers", "Chargers with a live connection", registry=registry
        )
        self.connections_opened = Counter(
            "csms_connections_opened", "Charger connections accepted", registry=registry
        )
        self.connections_refused = Counter(
            "csms_connections_refused", "Charger connections refused, by reason", ["reason"],
            registry=registry,
        )  # fmt: skip
        self.received = Counter(
            "csms_ocpp_messages_received", "CALLs received from chargers, by action and our "
            "answer (CALLRESULT or the CALLERROR code)", ["action", "result"], registry=registry,
        )  # fmt: skip
        self.sent = Counter(
            "csms_ocpp_messages_sent", "CALLs sent to chargers, by action and outcome "
            "(CALLRESULT, the CALLERROR code, timeout, ...)", ["action", "result"],
            registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "csms_ocpp_handling_seconds", "Time to answer a charger's CALL, by action",
            ["action"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.open_transactions = Gauge(
            "csms_open_transactions", "Transactions open now", registry=registry
        )
        self.energy = Counter(
            "csms_energy_delivered_wh", "Energy of stopped transactions (Wh)", registry=registry
        )
        self.batch_lag = Gauge(
            "csms_write_batch_lag_seconds", "Age of the oldest document of the last batch "
            "written, by writer", ["writer"], registry=registry,
        )  # fmt: skip
        self.batch_pending = Gauge(
            "csms_write_batch_pending", "Documents waiting to be written (back-pressure "
            "starts at the writer's high-water mark), by writer", ["writer"], registry=registry,
        )  # fmt: skip
        self.open_alerts = Gauge(
            "csms_open_alerts", "Open alerts, by rule", ["rule"], registry=registry
        )
        self.loop_lag = Gauge(
            "csms_event_loop_lag_seconds", "How late the event loop ran a timer (last sample)",
            registry=registry,
        )  # fmt: skip
        self.charger_received = self.charger_connected = None
        if per_charger:
            self.charger_received = Counter(
                "csms_charger_messages_received", "CALLs received, by charger", ["charger"],
                registry=registry,
            )  # fmt: skip
            self.charger_connected = Gauge(
                "csms_charger_connected", "1 while the charger is connected", ["charger"],
                registry=registry,
            )  # fmt: skip
        self._received: dict[tuple[str, str], Any] = {}
        self._sent: dict[tuple[str, str], Any] = {}
        self._latency: dict[str, Any] = {}
        self._refused: dict[str, Any] = {}
        self._chargers: dict[str, Any] = {}
        self._task: asyncio.Task | None = None

    def call_answered(self, charger: str, action: str, result: str, seconds: float) -> None:
        """One CALL from a charger answered with ``result`` after ``seconds``."""
        key = (action, result)
        child = self._received.get(key)
        if child is None:
            child = self._received[key] = self.received.labels(action, result)
            self._latency.setdefault(action, self.latency.labels(action))
        child.inc()
        self._latency[action].observe(seconds)
        if self.charger_received is not None:
            per = self._chargers.get(charger)
            if per is None:
                per = self._chargers[charger] = self.charger_received.labels(charger)
            per.inc()

    def call_sent(self, action: str, result: str) -> None:
        """One of our CALLs finished with ``result``."""
        key = (action, result)
        child = self._sent.get(key)
        if child is None:
            child = self._sent[key] = self.sent.labels(action, result)
        child.inc()

    def connection_refused(self, status: int | str) -> None:
        """A charger connection refused before the upgrade (by HTTP status, or a reason)."""
        reason = REFUSAL_REASONS.get(status, str(status)) if isinstance(status, int) else status
        child = self._refused.get(reason)
        if child is None:
            child = self._refused[reason] = self.connections_refused.labels(reason)
        child.inc()

    def set_connected(self, charger_ids: list[str]) -> None:
        """The connected chargers now (at scrape time)."""
        self.connected.set(len(charger_ids))
        if self.charger_connected is not None:
            self.charger_connected.clear()
            for charger in charger_ids:
                self.charger_connected.labels(charger).set(1)

    def set_writers(self, writers: list[Any]) -> None:
        """Lag and pending documents of the batch writers (at scrape time)."""
        for writer in writers:
            self.batch_lag.labels(writer.name).set(writer.last_lag)
            self.batch_pending.labels(writer.name).set(writer.pending)

    def set_open_alerts(self, rules: list[str], counts: dict[str, int]) -> None:
        """Open alerts of every rule (0 included)."""
        for rule in rules:
            self.open_alerts.labels(rule).set(counts.get(rule, 0))

    def series(self) -> int:
        """How many time series the registry exposes now."""
        return sum(len(metric.samples) for metric in self.registry.collect())

    def start(self) -> None:
        """Start sampling the event loop's lag."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._sample_loop_lag())

    async def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _sample_loop_lag(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(LOOP_LAG_INTERVAL)
            self.loop_lag.set(max(0.0, time.monotonic() - started - LOOP_LAG_INTERVAL))
