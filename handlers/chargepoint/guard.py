"""The HTTP server of the whole application, guarded at the TCP level.

``GuardedHTTPServer`` is Tornado's ``HTTPServer`` with three additions:

- a cap on open sockets of every kind (HTTP, WebSocket, TLS) in all and per socket peer
  IP (never X-Forwarded-For: the proxy headers are believed only by the WebSocket
  admission). A socket beyond a cap is closed as soon as it is accepted, so one address
  cannot hold every file descriptor with requests whose bodies never come;
- a request whose Content-Length is over ``max_body_size`` is answered 413 and closed
  before any of its body is read (Tornado itself would answer 400);
- when ``accept`` fails for lack of file descriptors (EMFILE, ENFILE) or memory, the
  listening socket pauses for ``accept_pause`` seconds and the failure is logged at most
  once per ``log_every`` seconds. Tornado's own accept handler lets the error escape
  into the event loop's exception handler, which logs it with a traceback on every
  loop iteration while the socket stays readable (1.6 GB of stderr in one attack).
  Other errors escape as before.

Open sockets are counted lazily: streams are kept in WeakSets and the closed ones are
pruned when a cap is reached (or every ``SWEEP_EVERY`` accepts), so a closed socket
never needs a close callback (Tornado hands the stream from HTTP to WebSocket, each
setting its own).
"""

from __future__ import annotations

import errno
import logging
import resource
import socket
import ssl
import time
import weakref
from collections.abc import Callable
from typing import Any

from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, SSLIOStream

log = logging.getLogger("csms.server")

# accept() failures that mean "out of resources": pause instead of spinning.
EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
SWEEP_EVERY = 1024
# File descriptors kept free of sockets: database, log files, embedded server pipes.
FD_RESERVE = 128
ACCEPT_BATCH = 128  # connections accepted per wake-up (Tornado's backlog heuristic)


def socket_limit(wanted: int) -> int:
    """``wanted`` open sockets, lowered to what the file descriptor limit allows (0: the
    limit alone); a cap above the limit would let accept() fail instead."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    allowed = max(16, soft - FD_RESERVE)
    return min(wanted, allowed) if wanted else allowed


class SocketCount:
    """Open sockets in all and per peer IP, with caps (0: none)."""

    def __init__(self, limit: int, per_ip: int):
        self.limit = limit
        self.per_ip = per_ip
        self.refused = 0
        self._all: weakref.WeakSet[IOStream] = weakref.WeakSet()
        self._by_ip: dict[str, weakref.WeakSet[IOStream]] = {}
        self._accepted = 0

    def __len__(self) -> int:
        return len(self._all)

    def count(self, ip: str) -> int:
        """Open sockets of ``ip`` (closed ones pruned)."""
        streams = self._by_ip.get(ip)
        if streams is None:
            return 0
        _prune(streams)
        if not streams:
            del self._by_ip[ip]
            return 0
        return len(streams)

    def admit(self, stream: IOStream, ip: str) -> bool:
        """Count ``stream`` from ``ip``; False (not counted) when a cap is reached."""
        self._accepted += 1
        if self._accepted % SWEEP_EVERY == 0:
            self.sweep()
        if self.limit and len(self._all) >= self.limit:
            _prune(self._all)
            if len(self._all) >= self.limit:
                self.refused += 1
                return False
        if self.per_ip:
            streams = self._by_ip.get(ip)
            if streams is not None and len(streams) >= self.per_ip:
                _prune(streams)
                if len(streams) >= self.per_ip:
                    self.refused += 1
                    return False
            self._by_ip.setdefault(ip, weakref.WeakSet()).add(stream)
        self._all.add(stream)
        return True

    def sweep(self) -> None:
        """Forget closed sockets and addresses with none open."""
        _prune(self._all)
        for ip in list(self._by_ip):
            self.count(ip)


def _prune(streams: weakref.WeakSet[IOStream]) -> None:
    for stream in [stream for stream in streams if stream.closed()]:
        streams.discard(stream)


class Throttled:
    """Calls ``emit(count)`` at most once per ``every`` seconds; ``count`` is how many
    events happened since the last call (the first event is emitted at once)."""

    def __init__(self, every: float, emit: Callable[[int], None],
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.every, self.emit, self.clock = every, emit, clock
        self.last = float("-inf")
        self.pending = 0

    def __call__(self) -> None:
        self.pending += 1
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            count, self.pending = self.pending, 0
            self.emit(count)


def add_guarded_accept_handler(
    sock: socket.socket, callback: Callable[[socket.socket, Any], None],
    on_exhausted: Callable[[OSError], None], pause: float,
) -> Callable[[], None]:  # fmt: skip
    """``tornado.netutil.add_accept_handler`` that pauses on EXHAUSTED errors.

    Returns the callable that stops accepting (also cancelling a pending resume)."""
    io_loop = IOLoop.current()
    state: dict[str, Any] = {"removed": False, "resume": None}

    def accept_handler(fd: Any, events: int) -> None:
        for _ in range(ACCEPT_BATCH):
            if state["removed"] or state["resume"] is not None:
                return
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in EXHAUSTED:
                    raise
                on_exhausted(exc)
                io_loop.remove_handler(sock)
                state["resume"] = io_loop.call_later(pause, resume)
                return
            callback(connection, address)

    def resume() -> None:
        state["resume"] = None
        if not state["removed"]:
            io_loop.add_handler(sock, accept_handler, IOLoop.READ)

    def remove_handler() -> None:
        if state["resume"] is not None:
            io_loop.remove_timeout(state["resume"])
            state["resume"] = None
        else:
            io_loop.remove_handler(sock)
        state["removed"] = True

    io_loop.add_handler(sock, accept_handler, IOLoop.READ)
    return remove_handler


class _BodyLimit(httputil.HTTPMessageDelegate):
    """Answers 413 to a request announcing a body over the limit, before reading it."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, connection: Any, limit: int):
        self.delegate, self.connection, self.limit = delegate, connection, limit
        self.refused = False

    async def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> None:
        length = headers.get("Content-Length", "")
        if self.limit and length.isdigit() and int(length) > self.limit:
            self.refused = True
            body = f"request body larger than {self.limit} bytes\n".encode()
            reply = httputil.HTTPHeaders({
                "Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body)),
                "Connection": "close",
            })  # fmt: skip
            start = httputil.ResponseStartLine("HTTP/1.1", 413, "Content Too Large")
            try:
                await self.connection.write_headers(start, reply, body)
            finally:
                self.connection.detach().close()  # the body is never read
            return
        result = self.delegate.headers_received(start_line, headers)
        if result is not None:
            await result

    def data_received(self, chunk: bytes) -> Any:
        return None if self.refused else self.delegate.data_received(chunk)

    def finish(self) -> None:
        if not self.refused:
            self.delegate.finish()

    def on_connection_close(self) -> None:
        if not self.refused:
            self.delegate.on_connection_close()


class GuardedHTTPServer(HTTPServer):
    """``HTTPServer`` with socket caps, a 413 body limit and a paused, quiet accept on
    EMFILE (see the module docstring). Extra keyword arguments: ``max_sockets``,
    ``max_sockets_per_ip``, ``accept_pause`` (seconds), ``log_every`` (seconds),
    ``on_certificate_refused(ip, why)`` (a TLS handshake refused a client certificate); the
    rest are ``HTTPServer``'s (``max_body_size`` is also the 413 limit)."""

    def initialize(
        self, request_callback: Any, *, max_sockets: int = 0, max_sockets_per_ip: int = 0,
        accept_pause: float = 0.1, log_every: float = 1.0,
        on_certificate_refused: Callable[[str, str], None] | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().initialize(request_callback, **kwargs)
        self.on_certificate_refused = on_certificate_refused
        self.sockets_open = SocketCount(max_sockets, max_sockets_per_ip)
        self.body_limit = kwargs.get("max_body_size") or 0
        self.accept_pause = accept_pause
        self._log_exhausted = Throttled(log_every, self._exhausted_line)
        self._log_refused = Throttled(log_every, self._refused_line)
        self._last_error: OSError | None = None

    def add_sockets(self, sockets: Any) -> None:
        """Accept on ``sockets`` with the guarded accept handler."""
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = add_guarded_accept_handler(
                sock, self._handle_connection, self._on_exhausted, self.accept_pause
            )

    def _on_exhausted(self, exc: OSError) -> None:
        self._last_error = exc
        self._log_exhausted()

    def _exhausted_line(self, count: int) -> None:
        log.error("accept failed %d time(s): %s; pausing %.1f s each time (%d sockets open)",
                  count, self._last_error, self.accept_pause, len(self.sockets_open))  # fmt: skip

    def _refused_line(self, count: int) -> None:
        log.warning("socket cap reached: %d refused since the last line (%d open, cap %d, %d"
                    " per IP)", count, len(self.sockets_open), self.sockets_open.limit,
                    self.sockets_open.per_ip)  # fmt: skip

    def handle_stream(self, stream: IOStream, address: Any) -> None:
        """Close a socket over a cap at once; serve the others."""
        ip = address[0] if isinstance(address, tuple) and address else "local"
        if not self.sockets_open.admit(stream, ip):
            self._log_refused()
            stream.close()
            return
        if self.on_certificate_refused is not None and isinstance(stream, SSLIOStream):
            stream.wait_for_handshake().add_done_callback(
                lambda done: self._handshake_done(done, ip)
            )
        super().handle_stream(stream, address)

    def _handshake_done(self, done: Any, ip: str) -> None:
        """A handshake that failed on the client certificate is reported (profile 3)."""
        if done.cancelled() or done.exception() is None:
            return
        error = done.exception()  # Tornado hands the SSL error itself to this future
        error = getattr(error, "real_error", None) or error
        if isinstance(error, ssl.SSLCertVerificationError) and self.on_certificate_refused:
            self.on_certificate_refused(ip, error.verify_message or str(error))

    def start_request(self, server_conn: object, request_conn: Any) -> Any:
        """Tornado's delegate, behind the 413 check."""
        delegate = super().start_request(server_conn, request_conn)
        return _BodyLimit(delegate, request_conn, self.body_limit)
