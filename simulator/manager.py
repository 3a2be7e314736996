"""Simulators run from the admin: stored entries turned into running charge point simulators.

``SimulatorManager`` holds the running ``ChargePointSimulator`` objects by entry
id (one per entry at most), starts and stops them, exposes their state for the
admin pages and stops them all at server shutdown. ``entry_config`` turns a
stored entry (``models.simulators``) into a ``SimulatorConfig``;
``config_problems`` checks field values with the simulator's own rules and says
which field each problem belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from ocppj.validation import SchemaStore
from simulator import ChargePointSimulator, ConfigError, SimulatorConfig, SimulatorState

log = logging.getLogger("simulator.manager")

# The entry fields a SimulatorConfig takes as they are.
CONFIG_FIELDS = (
    "host", "ws_port", "cp_path", "rfid", "interval", "kwh_min", "kwh_max", "duration",
    "pre_charge_delay", "repeat", "connectors", "username", "password",
)  # fmt: skip

GENERAL = "config"
# Entry fields without which no configuration can be built.
REQUIRED = ("host", "cp_path", "interval", "kwh_min", "kwh_max", "duration",
            "pre_charge_delay", "connectors")  # fmt: skip


def entry_config(entry: Mapping[str, Any], default_port: int) -> SimulatorConfig:
    """The configuration of a stored entry; ``ws_port`` None means ``default_port``.

    Raise ConfigError when the stored values cannot work.
    """
    values = {name: entry.get(name) for name in CONFIG_FIELDS}
    values["ws_port"] = values["ws_port"] or default_port
    for name in ("rfid", "username", "password"):
        values[name] = values[name] or None  # empty text: not set
    values["repeat"] = bool(values["repeat"])
    missing = [name for name, value in values.items() if value is None and name in REQUIRED]
    if missing:
        raise ConfigError("missing " + ", ".join(missing))
    return SimulatorConfig(**values)


def config_problems(values: Mapping[str, Any]) -> dict[str, str]:
    """What SimulatorConfig finds wrong with ``values``, by form field (``GENERAL`` when a
    problem names no field); empty when they make a working configuration."""
    probe = SimulatorConfig()
    for name, value in values.items():
        setattr(probe, name, value)  # unchecked, so every problem is reported at once
    found: dict[str, str] = {}
    for field, problem in probe.field_problems():
        field = field if field in CONFIG_FIELDS else GENERAL
        found[field] = f"{found[field]}; {problem}" if field in found else problem
    return found


def entry_url(entry: Mapping[str, Any], default_port: int) -> str:
    """The full WebSocket URL an entry connects to (``ws://host:port/cp_path``)."""
    try:
        return entry_config(entry, default_port).url
    except ConfigError:
        host = entry.get("host") or ""
        host = f"[{host}]" if ":" in host else host
        path = (entry.get("cp_path") or "").lstrip("/")
        return f"ws://{host}:{entry.get('ws_port') or default_port}/{path}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback address literals (no name is resolved)."""
    if host.strip("[]").lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def target_problems(
    host: str, port: int, own_hosts: set[str], own_ports: set[int]
) -> dict[str, str]:
    """Why a simulator may not connect to ``host``:``port`` when only this server is
    allowed (its own names or loopback, on one of its own ports), by field; empty when
    it may. Keeps the admin from being a proxy to other hosts (SSRF)."""
    found = {}
    if not is_loopback(host) and host.lower() not in {name.lower() for name in own_hosts}:
        found["host"] = ("only this server (its own host name or loopback) unless the server"
                         " runs with --allow-simulator-targets")  # fmt: skip
    if port not in own_ports:
        ports = ", ".join(str(number) for number in sorted(own_ports))
        found["ws_port"] = (f"only this server's port ({ports}) unless the server runs with"
                            " --allow-simulator-targets")  # fmt: skip
    return found


class ManagerClosed(RuntimeError):
    """The manager was shut down (``stop_all``): nothing starts any more."""


class SimulatorConflict(RuntimeError):
    """Another running entry already simulates the same charger on the same server."""


class SimulatorManager:
    """The simulators started from the admin, by entry id.

    ``default_host``/``default_port`` say where this server can be reached from its
    own process (the composition root knows the port it listens on); when None the
    admin derives them from the public URL or the request.
    """

    def __init__(
        self,
        schemas: SchemaStore | None = None,
        *,
        stop_timeout: float = 10.0,
        default_host: str | None = None,
        default_port: int | None = None,
        other_ports: tuple[int, ...] = (),
        allow_any_target: bool = False,
    ):
        self.schemas = schemas or SchemaStore()
        self.other_ports = other_ports  # e.g. the TLS port beside default_port
        self.allow_any_target = allow_any_target  # --allow-simulator-targets
        self.stop_timeout = stop_timeout
        self.default_host = default_host
        self.default_port = default_port
        self._simulators: dict[str, ChargePointSimulator] = {}
        self._closed = False

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._simulators

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._simulators))

    def __len__(self) -> int:
        return len(self._simulators)

    @property
    def closed(self) -> bool:
        """True once ``stop_all`` has been called."""
        return self._closed

    def get(self, entry_id: str) -> ChargePointSimulator | None:
        """The simulator last started for the entry (running or not), or None."""
        return self._simulators.get(entry_id)

    def state(self, entry_id: str) -> SimulatorState | None:
        """The state of the entry's simulator, or None when it was never started."""
        simulator = self._simulators.get(entry_id)
        return None if simulator is None else simulator.state

    def is_running(self, entry_id: str) -> bool:
        """True while the entry's simulator runs (connecting, charging, stopping)."""
        simulator = self._simulators.get(entry_id)
        return simulator is not None and simulator.running

    def start(self, entry_id: str, config: SimulatorConfig) -> bool:
        """Start the entry's simulator with ``config``; False when it already runs (nothing
        new is started, the running one keeps its configuration).

        Raise ManagerClosed after ``stop_all``, SimulatorConflict when another running entry
        uses the same charger id on the same host and port (the second connection would
        replace the first).
        """
        if self._closed:
            raise ManagerClosed("the server is shutting down")
        current = self._simulators.get(entry_id)
        if current is not None and current.running:
            return False
        for other_id, other in self._simulators.items():
            same = (other.config.host, other.config.ws_port, other.config.charger_id) == (
                config.host, config.ws_port, config.charger_id,
            )  # fmt: skip
            if other_id != entry_id and other.running and same:
                raise SimulatorConflict(
                    f"charger {config.charger_id} is already simulated by another running entry"
                )
        simulator = ChargePointSimulator(config, self.schemas)
        self._simulators[entry_id] = simulator
        simulator.start()
        log.info("simulator %s started for %s", entry_id, config.url)
        return True

    async def stop(self, entry_id: str, timeout: float | None = None) -> bool:
        """Stop the entry's simulator (sessions end with StopTransaction); False when it was
        not running. Bounded by ``timeout`` (default ``stop_timeout``): then it is cancelled."""
        simulator = self._simulators.get(entry_id)
        if simulator is None or not simulator.running:
            return False
        await simulator.stop(self.stop_timeout if timeout is None else timeout)
        log.info("simulator %s stopped", entry_id)
        return True

    async def remove(self, entry_id: str, timeout: float | None = None) -> None:
        """Stop the entry's simulator and forget it (the entry is being deleted)."""
        await self.stop(entry_id, timeout)
        self._simulators.pop(entry_id, None)

    async def stop_all(self, timeout: float | None = None) -> None:
        """Stop every simulator at once and refuse new starts (server shutdown).

        Each simulator gets ``timeout`` seconds to end its sessions, then its task is
        cancelled; the whole call is bounded by about that time.
        """
        self._closed = True
        timeout = self.stop_timeout if timeout is None else timeout
        running = [sim for sim in self._simulators.values() if sim.running]
        if not running:
            return
        log.info("stopping %d simulators", len(running))
        stops = [asyncio.ensure_future(sim.stop(timeout)) for sim in running]
        # stop() cancels a simulator that overruns; the margin covers that cancellation.
        done, pending = await asyncio.wait(stops, timeout=timeout + 2.0)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("stopping a simulator failed", exc_info=task.exception())
