"""A bare Tornado WebSocket server: the throughput ceiling for ``scripts/bench.py``.

Every text frame is answered with ``[3,"<same id>",{}]``; only the message id
is read from the frame (no JSON parsing, no validation, no storage). It
speaks the same transport as the CSMS (Tornado, one asyncio loop, subprotocol
``ocpp1.6``, Nagle off, no compression), so the ratio between the two shows
what the OCPP work costs.

    python scripts/bench/ceiling.py --host 127.0.0.1 --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import tornado.web
import tornado.websocket


class EchoCallHandler(tornado.websocket.WebSocketHandler):
    """Answers every CALL with an empty CALLRESULT carrying its id."""

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Choose ocpp1.6 when offered, like the CSMS."""
        return "ocpp1.6" if "ocpp1.6" in subprotocols else None

    def open(self, *args: str, **kwargs: str) -> None:
        """Turn Nagle off, like the CSMS."""
        self.set_nodelay(True)

    def on_message(self, message: str | bytes) -> None:
        """Reply ``[3,"<id>",{}]``; the id is the first JSON string of the frame."""
        if isinstance(message, bytes):
            return
        start = message.find('"')
        end = message.find('"', start + 1)
        if start < 0 or end < 0:
            return
        self.write_message('[3,"' + message[start + 1 : end] + '",{}]')


class HealthHandler(tornado.web.RequestHandler):
    """``GET /healthz`` -> {"status": "ok"}, so the bench can wait for readiness."""

    def get(self) -> None:
        """Report that the server is up."""
        self.write({"status": "ok"})


def make_app() -> tornado.web.Application:
    """The ceiling application: /healthz over HTTP, everything else is the WebSocket."""
    return tornado.web.Application(
        [(r"/healthz", HealthHandler), (r"/.*", EchoCallHandler)],
        websocket_max_message_size=64 * 1024,
    )


async def serve(host: str, port: int) -> None:
    """Listen until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = make_app().listen(port, host)
    print(f"ceiling listening on http://{host}:{port}/", flush=True)
    await stop.wait()
    server.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description="bare WebSocket CALLRESULT server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
