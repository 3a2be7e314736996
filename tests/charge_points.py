"""Charge points for tests: the independent ``ocpp`` library over ``websockets``,
and a raw client for frames the library would never send."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp.v16 import ChargePoint

OCPP16 = ["ocpp1.6"]


@contextlib.asynccontextmanager
async def ocpp_charge_point(
    url: str, charger_id: str, cls: type[ChargePoint] = ChargePoint, **connect: Any
) -> AsyncIterator[ChargePoint]:
    """A connected ``ocpp.v16.ChargePoint`` whose receive loop runs in the background."""
    connect.setdefault("subprotocols", OCPP16)
    async with websockets.connect(url, **connect) as ws:
        cp = cls(charger_id, ws)
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class RecordingChargePoint(ChargePoint):
    """An ``ocpp`` charge point that records every CALL of the server as (action, raw
    camelCase payload) and answers it with ``replies[action]`` (default Accepted)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, dict]] = []
        self.replies: dict[str, dict] = {}

    async def route_message(self, raw_msg: str) -> None:
        """Record and answer a CALL; anything else goes to the library."""
        frame = json.loads(raw_msg)
        if frame[0] != 2:
            return await super().route_message(raw_msg)
        self.calls.append((frame[2], frame[3]))
        reply = self.replies.get(frame[2], {"status": "Accepted"})
        await self._send(json.dumps([3, frame[1], reply]))
        return None

    def received(self, action: str) -> list[dict]:
        """The payloads of the CALLs of ``action`` received so far."""
        return [payload for name, payload in list(self.calls) if name == action]


class RawCharger:
    """Sends exact frames and reads exact replies."""

    def __init__(self, ws: websockets.ClientConnection):
        self.ws = ws

    async def send(self, frame: Any) -> None:
        """Send a frame: text as is, anything else as JSON."""
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self, timeout: float = 5.0) -> Any:
        """The next frame, parsed."""
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def call(self, unique_id: str, action: str, payload: dict) -> Any:
        """Send a CALL and return the parsed reply."""
        await self.send([2, unique_id, action, payload])
        return await self.recv()

    async def boot(self) -> Any:
        """BootNotification with the minimum payload."""
        return await self.call(
            "boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
        )


@contextlib.asynccontextmanager
async def raw_charger(url: str, **connect: Any) -> AsyncIterator[RawCharger]:
    """A raw WebSocket charger offering ocpp1.6."""
    connect.setdefault("subprotocols", OCPP16)
    async with websockets.connect(url, **connect) as ws:
        yield RawCharger(ws)
