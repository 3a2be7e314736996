"""A Central System built on the independent ``ocpp`` library: the reference of the bench.

The smallest honest OCPP 1.6J server: ``websockets`` for the transport, the
library's ``ChargePoint`` routing every CALL through its JSON-schema validation
and its handlers, which answer what the load needs (boot Accepted, a transaction
id per start, empty replies) and store nothing. The CSMS's throughput under the
same load is reported as a ratio of this one (``scripts/bench/runner.py``).

    python scripts/bench/reference.py --host 127.0.0.1 --port 8002
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import signal
import sys
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class ReferenceChargePoint(ChargePoint):
    """The handlers of the bench's mix; transaction ids from one counter per server."""

    def __init__(self, charger_id: str, connection: Any, ids: itertools.count):
        super().__init__(charger_id, connection)
        self._ids = ids

    @on(Action.boot_notification)
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        """Accepted, heartbeat every 300 s."""
        return call_result.BootNotification(_now(), 300, RegistrationStatus.accepted)

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        """The current time."""
        return call_result.Heartbeat(_now())

    @on(Action.status_notification)
    def on_status(self, **_: Any) -> call_result.StatusNotification:
        """Nothing to answer."""
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        """Nothing to answer (nothing is stored)."""
        return call_result.MeterValues()

    @on(Action.authorize)
    def on_authorize(self, **_: Any) -> call_result.Authorize:
        """Every tag is accepted."""
        return call_result.Authorize({"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    def on_start(self, **_: Any) -> call_result.StartTransaction:
        """A new transaction id, the tag accepted."""
        accepted = {"status": AuthorizationStatus.accepted}
        return call_result.StartTransaction(next(self._ids), accepted)

    @on(Action.stop_transaction)
    def on_stop(self, **_: Any) -> call_result.StopTransaction:
        """Nothing to answer."""
        return call_result.StopTransaction()


def reference_ratio(closed: dict | None, reference: dict | None) -> dict[str, float | None]:
    """The report's fields: the reference's closed-loop CALL/s and ours as a ratio of it."""
    rate = reference["calls_per_s"] if reference else None
    ratio = round(closed["calls_per_s"] / rate, 4) if closed and rate else None
    return {"reference_calls_per_s": rate, "reference_ratio": ratio}


def health(connection: ServerConnection, request: Request) -> Response | None:
    """``GET /healthz`` (no upgrade) -> {"status": "ok"}, so the bench can wait for readiness."""
    if request.path == "/healthz":
        response = connection.respond(HTTPStatus.OK, '{"status": "ok"}\n')
        response.headers["Content-Type"] = "application/json"
        return response
    return None


async def serve_forever(host: str, port: int) -> None:
    """Listen until SIGINT/SIGTERM; one ``ReferenceChargePoint`` per connection."""
    ids = itertools.count(1)

    async def handler(connection: ServerConnection) -> None:
        charger_id = (connection.request.path if connection.request else "/").rsplit("/", 1)[-1]
        try:
            await ReferenceChargePoint(charger_id, connection, ids).start()
        except Exception:  # a charger going away ends its own task, not the server
            return

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(
        handler, host, port, subprotocols=["ocpp1.6"], compression=None, ping_interval=None,
        process_request=health, max_size=64 * 1024,
    ):  # fmt: skip
        print(f"reference listening on http://{host}:{port}/", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description="an OCPP 1.6J CS on the ocpp library")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args(argv)
    logging.getLogger("ocpp").setLevel(logging.WARNING)  # no line per message
    try:
        asyncio.run(serve_forever(args.host, args.port))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
