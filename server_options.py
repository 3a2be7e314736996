"""The options of ``server.py``: each flag, its environment variable and its default,
grouped by what it configures (one function per group), and the typed settings built
from them.

Every option can also come from the environment (CSMS_HOST, CSMS_PORT, ...); an explicit
flag wins.
"""

from __future__ import annotations

import argparse
import math
import os

from csms.alert_delivery import smtp_from_url
from csms.alert_rules import AlertSettings
from csms.instances import InstanceSettings
from csms.load_management import LoadSettings
from handlers.base import DEFAULT_TILE_URL, WebSettings
from handlers.chargepoint.limits import LimitSettings


def env_flag(name: str, default: bool) -> bool:
    """A boolean from the environment: 1/true/yes/on (any case) is True."""
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def positive_float(text: str) -> float:
    """A number greater than 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, not {text!r}")
    return value


def add_table(parser: argparse.ArgumentParser, rows: list[tuple]) -> None:
    """Options given as rows of (flag, environment variable, type, default, help): the
    environment overrides the default and the flag overrides both."""
    for flag, name, kind, default, text in rows:
        value = os.environ.get(name)
        parser.add_argument(flag, type=kind, default=kind(default if value is None else value),
                            help=text)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options, defaulting to the environment."""
    env = os.environ.get
    parser = argparse.ArgumentParser(description="OCPP 1.6J Central System")
    parser.add_argument("--host", default=env("CSMS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("CSMS_PORT", "8000")))
    parser.add_argument("--data-dir", default=env("CSMS_DATA_DIR", "./data"))
    parser.add_argument("--mongodb-uri", default=env("MONGODB_URI") or None)
    parser.add_argument(
        "--heartbeat-interval", type=int, default=int(env("CSMS_HEARTBEAT_INTERVAL", "300")),
        help="seconds, sent in BootNotification.conf",
    )  # fmt: skip
    parser.add_argument(
        "--ping-interval", type=float, default=float(env("CSMS_PING_INTERVAL", "60")),
        help="seconds between WebSocket pings (0: off)",
    )  # fmt: skip
    parser.add_argument(
        "--ping-timeout", type=float, default=float(env("CSMS_PING_TIMEOUT", "30")),
        help="seconds to wait for a pong before closing",
    )  # fmt: skip
    parser.add_argument(
        "--admin-password", default=env("CSMS_ADMIN_PASSWORD") or None,
        help="password of the 'admin' user created on first start (else a random one is printed)",
    )  # fmt: skip
    parser.add_argument(
        "--public-url", default=env("CSMS_PUBLIC_URL") or None,
        help="base URL of the landing pages in QR codes (default http://HOST:PORT)",
    )  # fmt: skip
    parser.add_argument("--tile-url", default=env("CSMS_TILE_URL") or DEFAULT_TILE_URL)
    parser.add_argument("--cookie-secret", default=env("CSMS_COOKIE_SECRET") or None)
    parser.add_argument(
        "--require-rfid-default", action=argparse.BooleanOptionalAction,
        default=env_flag("CSMS_REQUIRE_RFID_DEFAULT", False),
        help="new chargers (registered or added) get require_rfid on: unknown tags are Invalid",
    )  # fmt: skip
    parser.add_argument(
        "--max-connector-kw", type=positive_float,
        default=env("CSMS_MAX_CONNECTOR_KW", "400"),
        help="the most a connector delivers: energy beyond it in a session's time is flagged"
        " and not billed (default 400)",
    )  # fmt: skip
    parser.add_argument(
        "--max-clock-skew-hours", type=positive_float,
        default=env("CSMS_MAX_CLOCK_SKEW_HOURS", "24"),
        help="a charger time further ahead of the server's is implausible: such readings"
        " are kept but never used for energy (default 24)",
    )  # fmt: skip
    parser.add_argument("--log-level", default=env("CSMS_LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--allow-simulator-targets", action=argparse.BooleanOptionalAction,
        default=env_flag("CSMS_ALLOW_SIMULATOR_TARGETS", False),
        help="admin simulators may connect to any host and port (default: only this server)",
    )  # fmt: skip
    web = WebSettings()
    logins = [
        ("--login-failures-per-ip", "CSMS_LOGIN_FAILURES_PER_IP", int,
         web.login_failures_per_ip, "failed operator logins per IP per window before 429"),
        ("--login-failures-per-user", "CSMS_LOGIN_FAILURES_PER_USER", int,
         web.login_failures_per_user, "failed logins per user name per window before 429"),
        ("--login-failure-window", "CSMS_LOGIN_FAILURE_WINDOW", float,
         web.login_failure_window, "seconds (failed operator logins)"),
    ]  # fmt: skip
    add_table(parser, logins)
    add_security_args(parser)
    add_certificate_args(parser)
    add_limit_args(parser)
    add_load_args(parser)
    add_alert_args(parser)
    add_instance_args(parser)
    args = parser.parse_args(argv)
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    if args.tls_port and not args.certfile:
        parser.error("--tls-port needs --certfile")
    check_certificate_args(parser, args)
    if args.smtp_url:
        try:
            smtp_from_url(args.smtp_url)
        except ValueError as exc:
            parser.error(f"--smtp-url: {exc}")
    if args.alert_email and not args.smtp_url:
        parser.error("--alert-email needs --smtp-url")
    return args


def add_security_args(parser: argparse.ArgumentParser) -> None:
    """Options of charger security: TLS, unknown chargers, proxies, profiles, origins."""
    env = os.environ.get
    parser.add_argument(
        "--certfile", default=env("CSMS_CERTFILE") or None,
        help="TLS certificate chain (PEM): serve https/wss (security profile 2)",
    )  # fmt: skip
    parser.add_argument(
        "--keyfile", default=env("CSMS_KEYFILE") or None,
        help="private key of --certfile (PEM; default: inside the certfile)",
    )  # fmt: skip
    parser.add_argument(
        "--tls-port", type=int, default=int(env("CSMS_TLS_PORT", "0")) or None,
        help="serve TLS on this port and plain HTTP on --port (default: TLS on --port)",
    )  # fmt: skip
    parser.add_argument(
        "--allow-unknown-chargers", action=argparse.BooleanOptionalAction,
        default=env_flag("CSMS_ALLOW_UNKNOWN_CHARGERS", True),
        help="register unknown charger ids when they connect (else 404 and listed)",
    )  # fmt: skip
    parser.add_argument(
        "--uvloop", action=argparse.BooleanOptionalAction, default=env_flag("CSMS_UVLOOP", True),
        help="run on uvloop's event loop when it is installed (~10%% less CPU per message)",
    )  # fmt: skip
    parser.add_argument(
        "--behind-proxy", action=argparse.BooleanOptionalAction,
        default=env_flag("CSMS_BEHIND_PROXY", False),
        help="trust X-Forwarded-For/X-Real-Ip/X-Forwarded-Proto (only behind your own proxy)",
    )  # fmt: skip
    parser.add_argument(
        "--default-security-profile", type=int, choices=(0, 1, 2),
        default=int(env("CSMS_DEFAULT_SECURITY_PROFILE", "0")),
        help="security profile of chargers created from now on (registered or added; 1-2"
        " need a key before they can connect; default 0)",
    )  # fmt: skip
    parser.add_argument(
        "--idle-timeout", type=float,
        default=float(env("CSMS_IDLE_TIMEOUT")) if env("CSMS_IDLE_TIMEOUT") else None,
        help="close a charger silent this many seconds (default 3 x heartbeat + 60; 0: off)",
    )  # fmt: skip
    parser.add_argument(
        "--charger-origin", action="append",
        default=[o.strip() for o in env("CSMS_CHARGER_ORIGINS", "").split(",") if o.strip()],
        help="an Origin header value a charger may send (repeatable; browsers are refused)",
    )  # fmt: skip


def add_certificate_args(parser: argparse.ArgumentParser) -> None:
    """Options of charger certificates (security profile 3) and the second server
    certificate (RSA and ECDSA together)."""
    env = os.environ.get
    parser.add_argument(
        "--ca-certfile", default=env("CSMS_CA_CERTFILE") or None,
        help="the CA of charger certificates (PEM; default: one created under"
        " DATA_DIR/ca/ on first start)",
    )  # fmt: skip
    parser.add_argument(
        "--ca-keyfile", default=env("CSMS_CA_KEYFILE") or None,
        help="private key of --ca-certfile (PEM; default: inside the certfile)",
    )  # fmt: skip
    parser.add_argument(
        "--external-ca", action=argparse.BooleanOptionalAction,
        default=env_flag("CSMS_EXTERNAL_CA", False),
        help="keep chargers' CSRs for an external CA (signed in the admin) instead of"
        " signing them; needs --ca-certfile (that CA's certificate, no key)",
    )  # fmt: skip
    parser.add_argument(
        "--ecdsa-certfile", default=env("CSMS_ECDSA_CERTFILE") or None,
        help="a second TLS certificate chain (PEM) of the other key type than --certfile"
        " (e.g. ECDSA beside RSA): both are served, the client's suites choose",
    )  # fmt: skip
    parser.add_argument(
        "--ecdsa-keyfile", default=env("CSMS_ECDSA_KEYFILE") or None,
        help="private key of --ecdsa-certfile (PEM; default: inside the certfile)",
    )  # fmt: skip
    parser.add_argument(
        "--certificate-days", type=int, default=int(env("CSMS_CERTIFICATE_DAYS", "365")),
        help="days a charger certificate we sign is valid",
    )  # fmt: skip
    parser.add_argument(
        "--certificate-renewal-days", type=int,
        default=int(env("CSMS_CERTIFICATE_RENEWAL_DAYS", "30")),
        help="ask a charger for a new CSR this many days before its certificate expires",
    )  # fmt: skip


def check_certificate_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Combinations of the certificate options that cannot work (parser.error)."""
    if args.ca_keyfile and not args.ca_certfile:
        parser.error("--ca-keyfile needs --ca-certfile")
    if args.external_ca and not args.ca_certfile:
        parser.error("--external-ca needs --ca-certfile (the external CA's certificate)")
    if args.ecdsa_keyfile and not args.ecdsa_certfile:
        parser.error("--ecdsa-keyfile needs --ecdsa-certfile")
    if args.ecdsa_certfile and not args.certfile:
        parser.error("--ecdsa-certfile needs --certfile")
    if args.certificate_days < 1 or args.certificate_renewal_days < 0:
        parser.error("--certificate-days must be >= 1 and --certificate-renewal-days >= 0")


def add_limit_args(parser: argparse.ArgumentParser) -> None:
    """Options of connection, message and registration limits (``LimitSettings``)."""
    defaults = LimitSettings()
    limit = [
        ("--max-connections", "CSMS_MAX_CONNECTIONS", int, defaults.max_connections,
         "open charger connections before HTTP 503 (0: no cap)"),
        ("--max-handshakes", "CSMS_MAX_HANDSHAKES", int, defaults.max_handshakes,
         "charger handshakes in progress at once; the others wait in order (0: no bound)"),
        ("--message-rate", "CSMS_MESSAGE_RATE", float, defaults.message_rate,
         "frames/s per charger connection (0: no limit)"),
        ("--message-burst", "CSMS_MESSAGE_BURST", int, defaults.message_burst,
         "frames a connection may send at once above the rate"),
        ("--rate-close-after", "CSMS_RATE_CLOSE_AFTER", int, defaults.rate_close_after,
         "frames refused within 10 s before the connection is closed (1008; 0: never)"),
        ("--auth-failures", "CSMS_AUTH_FAILURES", int, defaults.auth_failures,
         "failed charger logins per IP per window before HTTP 429 (0: no limit)"),
        ("--auth-failure-window", "CSMS_AUTH_FAILURE_WINDOW", float,
         defaults.auth_failure_window, "seconds"),
        ("--header-timeout", "CSMS_HEADER_TIMEOUT", float, defaults.header_timeout,
         "seconds to receive a request's headers"),
        ("--max-connections-per-ip", "CSMS_MAX_CONNECTIONS_PER_IP", int,
         defaults.max_connections_per_ip, "open charger connections per IP before 503 (0: no cap)"),
        ("--sample-rate", "CSMS_SAMPLE_RATE", float, defaults.sample_rate,
         "sampled values/s per charger connection; over it frames are delayed (0: no limit)"),
        ("--max-sampled-values", "CSMS_MAX_SAMPLED_VALUES", int, defaults.max_sampled_values,
         "sampled values in one frame before CALLERROR OccurenceConstraintViolation (0: any)"),
        ("--registration-rate-per-ip", "CSMS_REGISTRATION_RATE_PER_IP", float,
         defaults.registration_rate_per_ip, "new charger ids registered per second per IP"),
        ("--registration-burst-per-ip", "CSMS_REGISTRATION_BURST_PER_IP", int,
         defaults.registration_burst_per_ip, "new charger ids one IP may register at once"),
        ("--registration-rate", "CSMS_REGISTRATION_RATE", float, defaults.registration_rate,
         "new charger ids registered per second in all (0: no limit)"),
        ("--registration-burst", "CSMS_REGISTRATION_BURST", int, defaults.registration_burst,
         "new charger ids registered at once in all"),
        ("--sink-max-connections", "CSMS_SINK_MAX_CONNECTIONS", int,
         defaults.sink_max_connections, "open /ws/sink/ connections (0: no cap)"),
        ("--sink-max-connections-per-ip", "CSMS_SINK_MAX_CONNECTIONS_PER_IP", int,
         defaults.sink_max_connections_per_ip, "open /ws/sink/ connections per IP"),
        ("--sink-message-rate", "CSMS_SINK_MESSAGE_RATE", float, defaults.sink_message_rate,
         "frames/s per sink connection (0: no limit)"),
        ("--body-timeout", "CSMS_BODY_TIMEOUT", float, defaults.body_timeout,
         "seconds to receive a request body"),
        ("--max-body-size", "CSMS_MAX_BODY_SIZE", int, defaults.max_body_size,
         "bytes of a request body before HTTP 413"),
        ("--max-open-sockets", "CSMS_MAX_OPEN_SOCKETS", int, defaults.max_open_sockets,
         "open TCP connections of every kind (lowered to the file descriptor limit)"),
        ("--max-open-sockets-per-ip", "CSMS_MAX_OPEN_SOCKETS_PER_IP", int,
         defaults.max_open_sockets_per_ip, "open TCP connections per socket peer IP (0: no cap)"),
    ]  # fmt: skip
    add_table(parser, limit)


def limit_settings(args: argparse.Namespace) -> LimitSettings:
    """The connection limits from the options."""
    return LimitSettings(
        max_connections=args.max_connections, idle_timeout=args.idle_timeout,
        max_handshakes=args.max_handshakes,
        message_rate=args.message_rate, message_burst=args.message_burst,
        rate_close_after=args.rate_close_after, auth_failures=args.auth_failures,
        auth_failure_window=args.auth_failure_window, header_timeout=args.header_timeout,
        charger_origins=tuple(args.charger_origin),
        max_connections_per_ip=args.max_connections_per_ip, sample_rate=args.sample_rate,
        max_sampled_values=args.max_sampled_values,
        registration_rate_per_ip=args.registration_rate_per_ip,
        registration_burst_per_ip=args.registration_burst_per_ip,
        registration_rate=args.registration_rate, registration_burst=args.registration_burst,
        sink_max_connections=args.sink_max_connections,
        sink_max_connections_per_ip=args.sink_max_connections_per_ip,
        sink_message_rate=args.sink_message_rate, body_timeout=args.body_timeout,
        max_body_size=args.max_body_size, max_open_sockets=args.max_open_sockets,
        max_open_sockets_per_ip=args.max_open_sockets_per_ip,
    )  # fmt: skip


def add_load_args(parser: argparse.ArgumentParser) -> None:
    """Load management of sites (csms.load_management)."""
    defaults = LoadSettings()
    load = [
        ("--load-hold-seconds", "CSMS_LOAD_HOLD_SECONDS", float, defaults.hold_s,
         "a raise that measured draw asks for waits this long after a connector's last "
         "profile (lowers never wait)"),
        ("--load-connector-max-a", "CSMS_LOAD_CONNECTOR_MAX_A", positive_float,
         defaults.connector_max_a, "a connector's rating in A unless its charger has its own"),
        ("--load-call-timeout", "CSMS_LOAD_CALL_TIMEOUT", positive_float,
         defaults.call_timeout, "seconds to wait for a charger's answer to a profile"),
    ]  # fmt: skip
    add_table(parser, load)


def load_settings(args: argparse.Namespace) -> LoadSettings:
    """The load-management settings from the options."""
    return LoadSettings(
        hold_s=max(0.0, args.load_hold_seconds), connector_max_a=args.load_connector_max_a,
        call_timeout=args.load_call_timeout,
    )  # fmt: skip


def add_instance_args(parser: argparse.ArgumentParser) -> None:
    """Several instances on one MongoDB replica set (csms.instances). The mode is on with
    --multi-instance or --instance-id (or their environment variables), off by default."""
    parser.add_argument(
        "--multi-instance", action=argparse.BooleanOptionalAction,
        default=env_flag("CSMS_MULTI_INSTANCE", False),
        help="share the database with other instances (needs a replica set)",
    )  # fmt: skip
    parser.add_argument(
        "--instance-id", default=os.environ.get("CSMS_INSTANCE_ID") or None,
        help="this instance's name among those sharing the database (default HOST:PORT;"
        " implies --multi-instance)",
    )  # fmt: skip
    add_table(parser, [("--lease-seconds", "CSMS_LEASE_SECONDS", positive_float, 10.0,
                        "a charger held by an instance that stops renewing shows offline"
                        " after this long (renewed every third of it)")])  # fmt: skip


def instance_settings(args: argparse.Namespace) -> InstanceSettings | None:
    """This instance's settings in multi-instance mode, None with one instance."""
    if not (args.multi_instance or args.instance_id):
        return None
    name = args.instance_id or f"{args.host}:{args.port}"
    return InstanceSettings(instance_id=name, lease_s=args.lease_seconds)


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def add_alert_args(parser: argparse.ArgumentParser) -> None:
    """Options of alerts (channels without the API, the rules' sweep) and of /metrics."""
    env = os.environ.get
    parser.add_argument(
        "--alert-webhook", action="append", default=_env_list("CSMS_ALERT_WEBHOOKS"),
        help="POST every alert to this URL (repeatable; env: comma-separated)",
    )  # fmt: skip
    parser.add_argument(
        "--alert-webhook-secret", default=env("CSMS_ALERT_WEBHOOK_SECRET", ""),
        help="shared secret of --alert-webhook: X-CSMS-Signature: sha256=<HMAC of the body>",
    )  # fmt: skip
    parser.add_argument(
        "--smtp-url", default=env("CSMS_SMTP_URL") or None,
        help="SMTP server of --alert-email: smtp://[user:password@]host[:port]"
        "[?starttls=1&from=addr] (smtps:// for TLS)",
    )  # fmt: skip
    parser.add_argument(
        "--alert-email", action="append", default=_env_list("CSMS_ALERT_EMAILS"),
        help="e-mail every alert to this address (repeatable; env: comma-separated)",
    )  # fmt: skip
    parser.add_argument(
        "--alert-interval", type=positive_float, default=env("CSMS_ALERT_INTERVAL", "30"),
        help="seconds between evaluations of the time-based alert rules (default 30)",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-port", type=int, default=int(env("CSMS_METRICS_PORT", "0")) or None,
        help="also serve /metrics without authentication on this port, bound to 127.0.0.1",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-per-charger", action=argparse.BooleanOptionalAction,
        default=env_flag("CSMS_METRICS_PER_CHARGER", False),
        help="metric series per charger id (small networks only: one series per charger)",
    )  # fmt: skip


def alert_settings(args: argparse.Namespace) -> AlertSettings:
    """The alert settings from the options."""
    return AlertSettings(
        interval=args.alert_interval, webhooks=list(args.alert_webhook),
        webhook_secret=args.alert_webhook_secret, smtp_url=args.smtp_url,
        emails=list(args.alert_email),
    )  # fmt: skip
