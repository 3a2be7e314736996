"""Helpers for the simulator tests: polling, a scripted Central System, free ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from simulator import ChargePointSimulator, SimulatorConfig


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.02):
    """Poll a predicate (sync or async) until it returns something truthy, or time out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(step)


def sim_config(port: int, cp_path: str, **fields: Any) -> SimulatorConfig:
    """A quick simulator configuration for tests: 0.2 s samples, 1 s sessions."""
    values: dict[str, Any] = {
        "interval": 0.2, "duration": 1.0, "kwh_min": 1.5, "kwh_max": 1.5,
        "connect_timeout": 3.0, "call_timeout": 5.0, "seed": 7,
    }  # fmt: skip
    values.update(fields)
    return SimulatorConfig(host="127.0.0.1", ws_port=port, cp_path=cp_path, **values)


@contextlib.asynccontextmanager
async def started(sim: ChargePointSimulator, ready: bool = True) -> AsyncIterator:
    """Run a simulator as a task for the block; stop it afterwards."""
    sim.start()
    try:
        if ready:
            assert await wait_for(lambda: sim.state.status in ("ready", "error"), 20)
            assert sim.state.status == "ready", sim.state.last_error
        yield sim
    finally:
        await sim.stop(5)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


Script = Callable[["FakeCentralSystem", ServerConnection], Awaitable[None]]


class FakeCentralSystem:
    """A Central System whose every frame is scripted and recorded (loopback only)."""

    def __init__(self, script: Script | None = None):
        self.script = script or FakeCentralSystem.answer_everything
        self.received: list[list[Any]] = []
        self.port: int | None = None
        self.connections = 0
        self.transaction_id = 7

    async def recv(self, ws: ServerConnection, timeout: float = 5.0) -> list[Any]:
        """The next frame from the charge point, parsed and recorded."""
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        self.received.append(frame)
        return frame

    async def send(self, ws: ServerConnection, frame: list[Any]) -> None:
        """Send a frame to the charge point."""
        await ws.send(json.dumps(frame))

    def reply_to(self, call: list[Any]) -> list[Any]:
        """The standard CALLRESULT for a charge point's CALL."""
        action, payload = call[2], call[3]
        now = "2026-01-01T00:00:00.000Z"
        result: dict[str, Any] = {}
        if action == "BootNotification":
            result = {"status": "Accepted", "currentTime": now, "interval": 300}
        elif action == "Heartbeat":
            result = {"currentTime": now}
        elif action == "Authorize":
            result = {"idTagInfo": {"status": "Accepted"}}
        elif action == "StartTransaction":
            result = {"transactionId": self.transaction_id, "idTagInfo": {"status": "Accepted"}}
        elif action == "StopTransaction" and "idTag" in payload:
            result = {"idTagInfo": {"status": "Accepted"}}
        return [3, call[1], result]

    async def answer_everything(self, ws: ServerConnection) -> None:
        """Default script: answer every CALL with the standard result until the close."""
        with contextlib.suppress(Exception):
            while True:
                frame = await self.recv(ws, timeout=30)
                if frame[0] == 2:
                    await self.send(ws, self.reply_to(frame))

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        await self.script(self, ws)

    @contextlib.asynccontextmanager
    async def serving(self, port: int = 0) -> AsyncIterator[FakeCentralSystem]:
        """Listen on a loopback port (a free one when 0) for the block; leaving it stops
        listening first, then closes the open connections (code 1001), like a restart."""
        async with serve(
            self._handler, "127.0.0.1", port, subprotocols=["ocpp1.6"], compression=None
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            yield self

    def actions(self) -> list[str]:
        """The actions of the CALLs received, in order."""
        return [frame[2] for frame in self.received if frame[0] == 2]
