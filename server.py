"""Composition root: options -> database -> Application -> listen; graceful shutdown.

    python server.py --host H --port P --data-dir D [--mongodb-uri URI]

The options live in ``server_options.py`` (each can also come from the environment:
CSMS_HOST, CSMS_PORT, CSMS_DATA_DIR, MONGODB_URI, ...). Without a URI the embedded
SecantusDB server is started as a child process with its data in D/db.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import resource
import secrets
import signal
import sys
from pathlib import Path

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from csms import alerts
from csms.certificate_authority import CertificateAuthority, load_ca, load_or_create_ca
from csms.certificates import renewal_loop
from csms.instances import Instances
from csms.logfiles import FrameLog, start_logging
from csms.registry import ConnectionRegistry
from csms.services import CsmsSettings, Services
from handlers.base import WebSettings
from handlers.chargepoint.admission import server_tls_context, tls_refusal_recorder
from handlers.chargepoint.guard import GuardedHTTPServer, socket_limit
from handlers.metrics import make_metrics_app
from handlers.routes import make_app
from models.db import DatabaseUnavailable, connect
from models.embedded import EmbeddedDatabase, EmbeddedDatabaseError, private_dir
from models.migrations import migrate
from ocppj.timeutil import utcnow
from server_options import (
    alert_settings,
    instance_settings,
    limit_settings,
    load_settings,
    parse_args,
)
from simulator.manager import SimulatorManager

log = logging.getLogger("csms.server")
FULL_GC_AFTER = 1000  # generation-1 passes before a full one is considered (Python's: 10)

EXIT_STARTUP = 2


LISTEN_BACKLOG = 16384  # connections waiting to be accepted (see Server.start)


class Server:
    """The running system: database, services, HTTP server; started and stopped as one."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.data_dir = Path(args.data_dir)
        self.embedded: EmbeddedDatabase | None = None
        self.client = None
        self.services: Services | None = None
        self.registry: ConnectionRegistry | None = None
        self.simulators: SimulatorManager | None = None
        self.http = None
        self.https = None
        self.metrics_http = None
        self.instances: Instances | None = None

    async def start(self) -> None:
        """Start everything; raise DatabaseUnavailable/EmbeddedDatabaseError/OSError."""
        args = self.args
        # Before anything starts: a bad certificate or a port in use is an OSError (exit
        # code 2), so no database is started and no admin password printed for nothing.
        ca = certificate_authority(args, self.data_dir)
        tls = None
        if args.certfile:
            ecdsa = (args.ecdsa_certfile, args.ecdsa_keyfile) if args.ecdsa_certfile else None
            tls = server_tls_context(args.certfile, args.keyfile, ecdsa=ecdsa,
                                     client_ca=ca.pem if ca else None)  # fmt: skip
        # A listen queue for a reconnect storm: with Tornado's default of 128, thousands of
        # chargers connecting at once overflow it and the kernel drops their SYNs, which
        # they resend only after 1, 3, 7, 15 ... s (the kernel caps it at somaxconn).
        backlog = LISTEN_BACKLOG
        tls_sockets = (
            bind_sockets(args.tls_port, args.host, backlog=backlog) if tls and args.tls_port else []
        )
        plain_sockets = bind_sockets(args.port, args.host, backlog=backlog)
        # /metrics without authentication: only ever on the loopback interface.
        metrics_sockets = bind_sockets(args.metrics_port, "127.0.0.1") if args.metrics_port else []
        uri = args.mongodb_uri
        multi = instance_settings(args)
        if uri is None:
            # Several instances need change streams: a one-node replica set.
            self.embedded = EmbeddedDatabase(self.data_dir, replica_set=multi is not None)
            # On this thread: the child exits with it (nothing else runs yet; ~0.6 s).
            uri = self.embedded.start()
        self.client, db = await connect(uri)
        await migrate(db)
        settings = CsmsSettings(
            heartbeat_interval=args.heartbeat_interval,
            require_rfid_default=args.require_rfid_default,
            max_connector_power_w=args.max_connector_kw * 1000,
            max_clock_skew_s=args.max_clock_skew_hours * 3600,
            default_security_profile=args.default_security_profile,
            external_ca=args.external_ca,
            certificate_days=args.certificate_days,
            renewal_days=args.certificate_renewal_days,
            alerts=alert_settings(args),
            metrics_per_charger=args.metrics_per_charger,
        )
        limits = limit_settings(args)
        self.services = Services.build(db, settings)
        self.services.frame_log = FrameLog(self.data_dir / "logs" / "ocpp-frames.log")
        # The sink is anonymous: its own, smaller file, so it cannot rotate chargers' away.
        self.services.sink_log = FrameLog(
            self.data_dir / "logs" / "sink-frames.log", max_bytes=10 * 1024 * 1024, backups=2
        )
        self.registry = ConnectionRegistry(
            self.services.schemas,
            self.services.commands,
            default_timeout=settings.call_timeout,
            metrics=self.services.metrics,
        )
        self.services.ca, self.services.registry = ca, self.registry
        alerts.attach(self.services)
        if multi is None:
            await self.services.chargers.mark_all_offline()
        else:  # the others' chargers stay connected; this one's earlier run holds none
            self.instances = Instances(self.services, self.registry, multi)
            self.instances.attach()
        self.services.start()
        if self.instances is not None:
            await self.instances.start()
        if ca is not None:
            self.services.keep(renewal_loop(self.services))
        # Simulators started from the admin connect back to this server by default.
        self.simulators = SimulatorManager(
            self.services.schemas,
            default_host="127.0.0.1" if args.host in ("", "0.0.0.0", "::") else args.host,
            default_port=args.port,
            other_ports=(args.tls_port,) if args.tls_port else (),
            allow_any_target=args.allow_simulator_targets,
        )
        web = WebSettings(
            public_url=(args.public_url or base_url(args)).rstrip("/"),
            tile_url=args.tile_url,
            login_failures_per_ip=args.login_failures_per_ip,
            login_failures_per_user=args.login_failures_per_user,
            login_failure_window=args.login_failure_window,
            https_port=args.tls_port if tls is not None and args.tls_port else None,
        )
        app = make_app(
            self.services, self.registry, web=web,
            cookie_secret=args.cookie_secret or cookie_secret(self.data_dir),
            ping_interval=args.ping_interval or None, ping_timeout=args.ping_timeout or None,
            simulators=self.simulators, limits=limits,
            allow_unknown_chargers=args.allow_unknown_chargers, tls=tls is not None,
            trust_proxy_headers=args.behind_proxy, load=load_settings(args),
        )  # fmt: skip
        if self.instances is not None and self.services.load is not None:
            self.services.load.gate = self.instances.site_gate  # one decider per site
        # The first user exists before the first request is accepted (else a login right
        # after the start would be refused).
        await ensure_admin(self.services, args.admin_password)
        sockets = socket_limit(limits.max_open_sockets)
        if limits.max_connections and sockets < limits.max_connections:
            log.warning("the file descriptor limit allows %d sockets, fewer than"
                        " --max-connections %d: raise it (ulimit -n)", sockets,
                        limits.max_connections)  # fmt: skip
        listen = {"xheaders": args.behind_proxy, **limits.http_server_kwargs(),
                  "max_sockets": sockets,
                  "max_sockets_per_ip": limits.max_open_sockets_per_ip}  # fmt: skip
        log.info("at most %d open sockets, %d per IP", listen["max_sockets"],
                 limits.max_open_sockets_per_ip)  # fmt: skip
        refused = tls_refusal_recorder(self.services)
        if tls_sockets:
            self.https = GuardedHTTPServer(app, ssl_options=tls, on_certificate_refused=refused,
                                           **listen)  # fmt: skip
            self.https.add_sockets(tls_sockets)
            tls = None  # --port stays plain
        self.http = GuardedHTTPServer(app, ssl_options=tls,
                                      on_certificate_refused=refused if tls else None,
                                      **listen)  # fmt: skip
        self.http.add_sockets(plain_sockets)
        if metrics_sockets:
            self.metrics_http = HTTPServer(make_metrics_app(self.services, self.registry))
            self.metrics_http.add_sockets(metrics_sockets)

    async def stop(self) -> None:
        """Stop simulators, stop accepting, close charger sockets, flush buffers, stop the
        embedded db."""
        if self.simulators is not None:
            # Their sessions end with StopTransaction while the server still answers.
            await self.simulators.stop_all(5.0)
        servers = [server for server in (self.http, self.https, self.metrics_http) if server]
        for server in servers:
            server.stop()
        if self.registry is not None:
            self.registry.close_all(1001, "server shutting down")
            await self.registry.wait_empty(5.0)
        for server in servers:
            try:  # a peer that never finishes its close must not hold the shutdown
                await asyncio.wait_for(server.close_all_connections(), 5.0)
            except TimeoutError:
                log.warning("some connections did not close in time")
        if self.instances is not None:
            await self.instances.stop()
        if self.services is not None:
            await self.services.stop()
            for frame_log in (self.services.frame_log, self.services.sink_log):
                if frame_log is not None:
                    frame_log.close()
        if self.client is not None:
            await self.client.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


def certificate_authority(args: argparse.Namespace, data_dir: Path) -> CertificateAuthority:
    """The CA of charger certificates: --ca-certfile/--ca-keyfile (the certificate alone
    with --external-ca), else the built-in one under DATA_DIR/ca (created on first
    start). A file that cannot be used is an OSError (exit code 2)."""
    try:
        if args.ca_certfile:
            return load_ca(args.ca_certfile, args.ca_keyfile, with_key=not args.external_ca)
        return load_or_create_ca(data_dir / "ca", utcnow())
    except ValueError as exc:
        raise OSError(f"certificate authority: {exc}") from exc


def base_url(args: argparse.Namespace) -> str:
    """Where this server is reached: https when --port serves TLS."""
    scheme = "https" if args.certfile and not args.tls_port else "http"
    return f"{scheme}://{args.host}:{args.port}"


def raise_fd_limit() -> None:
    """Raise the soft file descriptor limit to the hard one: a charger is a socket, and a
    soft limit of 1,024 would cap the fleet near 900."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def private_data_dir(data_dir: Path) -> None:
    """The data dir and everything we write in it are the owner's only: directories 0700,
    files 0600 (from now on through the umask; files an older version left 0644 fixed)."""
    os.umask(0o077)
    for folder in (data_dir, data_dir / "logs"):
        private_dir(folder)
        for path in folder.iterdir():
            if path.is_file() and not path.is_symlink():
                path.chmod(0o600)


def cookie_secret(data_dir: Path) -> str:
    """The cookie signing secret, created once and kept in D/cookie_secret (mode 0600)."""
    path = data_dir / "cookie_secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


async def ensure_admin(services: Services, password: str | None) -> None:
    """With no user at all, create ``admin``; print a generated password once."""
    if await services.users.count():
        return
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    await services.users.create("admin", password)
    if generated:
        print(f"Created user 'admin' with password: {password}", flush=True)
    else:
        print("Created user 'admin' with the password given.", flush=True)


async def serve(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM; return the exit code."""
    server = Server(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    log.info("event loop: %s", type(loop).__module__.split(".")[0])
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except (DatabaseUnavailable, EmbeddedDatabaseError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        await server.stop()
        return EXIT_STARTUP
    tune_gc()
    print(f"CSMS listening on {base_url(args)}/", flush=True)
    if args.tls_port:
        print(f"CSMS listening on https://{args.host}:{args.tls_port}/", flush=True)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    return 0


def tune_gc() -> None:
    """Keep the cyclic garbage collector's full passes rare (call once the server is up).

    A full pass walks every tracked object: with 10,000 charger connections that
    stalled the event loop ~0.5 s every minute or so (measured), for garbage that
    reference counting frees anyway. Objects alive at startup (modules, schemas, the
    application) are frozen out of all passes; young generations are collected as
    usual, so short-lived cycles still go at once.
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, FULL_GC_AFTER)


def run_loop(main_coro, use_uvloop: bool) -> int:
    """Run the server's coroutine on uvloop when asked for and installed, else asyncio's loop."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            log.info("uvloop is not installed: asyncio's event loop")
        else:
            return uvloop.run(main_coro)
    return asyncio.run(main_coro)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    raise_fd_limit()
    private_data_dir(Path(args.data_dir))
    listener = start_logging(Path(args.data_dir) / "logs", args.log_level.upper())
    try:
        return run_loop(serve(args), args.uvloop)
    finally:
        listener.stop()


if __name__ == "__main__":
    sys.exit(main())
