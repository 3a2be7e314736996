"""The charge point simulator: a simulated OCPP 1.6J charge point built on ``ocppj``.

    import asyncio
    from simulator import SimulatorConfig, ChargePointSimulator

    config = SimulatorConfig(host="127.0.0.1", ws_port=8000, cp_path="SIM1/")
    sim = ChargePointSimulator(config)
    asyncio.run(sim.run_session())

``sim._run_session()`` is the same coroutine (the name the original README uses).
"""

from simulator.charge_point import ChargePointSimulator
from simulator.config import ConfigError, SimulatorConfig
from simulator.runner import FleetTotals, SimulatorFleet
from simulator.state import SessionInfo, SimulatorError, SimulatorState

__all__ = [
    "ChargePointSimulator",
    "ConfigError",
    "FleetTotals",
    "SessionInfo",
    "SimulatorConfig",
    "SimulatorError",
    "SimulatorFleet",
    "SimulatorState",
]
