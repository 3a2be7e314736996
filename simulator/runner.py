"""Many simulators at once (the command line and the benchmark use this)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ocppj.validation import SchemaStore
from simulator import state as st
from simulator.charge_point import ChargePointSimulator
from simulator.config import SimulatorConfig


def charger_ids(prefix: str, count: int) -> list[str]:
    """``count`` charger ids: the prefix and a number padded to the same width (SIM01..SIM50)."""
    width = len(str(count))
    return [f"{prefix}{number:0{width}d}" for number in range(1, count + 1)]


@dataclass(slots=True)
class FleetTotals:
    """Counts over every simulator of a fleet."""

    simulators: int = 0
    running: int = 0
    connected: int = 0
    sessions_completed: int = 0
    sessions_active: int = 0
    sessions_rejected: int = 0
    energy_wh: int = 0
    errors: int = 0

    def line(self) -> str:
        """The progress line: simulators, sessions, kWh, errors."""
        return (
            f"simulators {self.running}/{self.simulators} running, {self.connected} connected"
            f" | sessions {self.sessions_completed} done, {self.sessions_active} active,"
            f" {self.sessions_rejected} rejected"
            f" | energy {self.energy_wh / 1000:.3f} kWh | errors {self.errors}"
        )


class SimulatorFleet:
    """A group of simulators started, watched and stopped together."""

    def __init__(self, configs: Iterable[SimulatorConfig], schemas: SchemaStore | None = None):
        schemas = schemas or SchemaStore()
        self.simulators = [ChargePointSimulator(config, schemas) for config in configs]
        self._stopping = False

    @classmethod
    def from_url(cls, url: str, count: int, prefix: str = "SIM", **fields: Any) -> SimulatorFleet:
        """``count`` simulators on ``url`` (ws://host:port/path/), ids from ``prefix``.

        Raise ConfigError when the URL or a field is unusable.
        """
        configs = [
            SimulatorConfig.from_url(url, charger_id, **fields)
            for charger_id in charger_ids(prefix, count)
        ]
        return cls(configs)

    async def start(self, ramp: float = 0.0) -> None:
        """Start every simulator, ``ramp`` seconds apart (0: all at once)."""
        for index, simulator in enumerate(self.simulators):
            if self._stopping:
                return
            if ramp and index:
                await asyncio.sleep(ramp)
            simulator.start()

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop them all (each ends its sessions first); bounded by ``timeout``."""
        self._stopping = True
        await asyncio.gather(*(simulator.stop(timeout) for simulator in self.simulators))

    async def wait(self) -> None:
        """Wait until every started simulator has finished."""
        await asyncio.gather(*(simulator.wait() for simulator in self.simulators))

    @property
    def running(self) -> bool:
        """True while at least one simulator runs."""
        return any(simulator.running for simulator in self.simulators)

    def totals(self) -> FleetTotals:
        """Counts over every simulator right now."""
        totals = FleetTotals(simulators=len(self.simulators))
        for simulator in self.simulators:
            state = simulator.state
            totals.running += state.running
            totals.connected += state.connected
            totals.sessions_completed += state.sessions_completed
            totals.sessions_active += len(state.sessions)
            totals.sessions_rejected += state.sessions_rejected
            totals.energy_wh += state.energy_wh
            totals.errors += state.status == st.ERROR
        return totals

    def errors(self) -> list[tuple[str, str]]:
        """(charger id, error) of every simulator that ended in error."""
        return [
            (sim.config.charger_id, sim.state.last_error or "")
            for sim in self.simulators
            if sim.state.status == st.ERROR
        ]
