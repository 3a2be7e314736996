"""What a simulated charge point is: where it connects and how it charges."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

MAX_CHARGER_ID = 48
# kwh_min when none is given (lowered to kwh_max when that is smaller).
DEFAULT_KWH_MIN = 1.0


class ConfigError(ValueError):
    """A simulator configuration that cannot work (the message says which field and why)."""


def charger_id_of(cp_path: str) -> str:
    """The charger id a path stands for: its percent-decoded last non-empty segment."""
    segments = [segment for segment in cp_path.split("/") if segment]
    return unquote(segments[-1]) if segments else ""


@dataclass(slots=True)
class SimulatorConfig:
    """Settings of one simulated charge point.

    The WebSocket URL is ``ws://host:ws_port/cp_path`` (``wss://`` with ``tls``);
    the last segment of ``cp_path`` is the charger id. One charging session
    delivers a random amount of energy between ``kwh_min`` and ``kwh_max`` over
    ``duration`` seconds, with a MeterValues every ``interval`` seconds. A
    ``kwh_min`` left out is ``DEFAULT_KWH_MIN``, or ``kwh_max`` when that is
    smaller (``SimulatorConfig(kwh_max=0.5)`` charges 0.5 kWh per session).
    """

    host: str = "127.0.0.1"
    ws_port: int = 8000
    cp_path: str = "SIM1/"
    # idTag presented to start sessions; when set, it is Authorized first.
    rfid: str | None = None
    # idTag used for StartTransaction when no rfid is configured.
    default_id_tag: str = "SIMULATOR"
    interval: float = 5.0
    kwh_min: float | None = None  # a number once constructed (see above)
    kwh_max: float = 2.0
    duration: float = 60.0
    # Seconds between Preparing (and Authorize) and StartTransaction; also the
    # pause between two sessions in repeat mode.
    pre_charge_delay: float = 0.0
    repeat: bool = False
    # Start sessions by itself; when False it boots and waits for RemoteStartTransaction.
    auto_start: bool = True
    connectors: int = 1
    # HTTP Basic (security profile 1); the username defaults to the charger id.
    username: str | None = None
    password: str | None = None
    tls: bool = False
    # CA bundle to verify a wss:// server with (e.g. a self-signed test certificate).
    ca_file: str | None = None
    # Security profile 3: where the charger's key and signed certificate are kept
    # (simulator.certificates); with it, SignChargePointCertificate is answered and the
    # certificate, once received, is the TLS client certificate of every connection.
    certificate_dir: str | None = None
    vendor: str = "Simulator"
    model: str = "SIM-1"
    serial_number: str | None = None
    firmware_version: str = "1.0"
    voltage: float = 230.0
    # Phases the car charges on: a limit in A is per phase, the current sampled per phase.
    phases: int = 1
    battery_kwh: float = 60.0
    meter_start_wh: int = 0
    seed: int | None = None
    connect_timeout: float = 10.0
    call_timeout: float = 30.0
    # Boot attempts while the Central System answers Pending or Rejected.
    boot_attempts: int = 10
    # With ``repeat``, a lost or refused connection is retried after reconnect_min
    # seconds, doubling per failed attempt up to reconnect_max (see connection.Backoff).
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0
    # True when kwh_min was left out, so it follows kwh_max (in replace() too).
    _kwh_min_follows: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kwh_min is None:
            self._kwh_min_follows = True
            self.kwh_min = self._default_kwh_min()
        problems = self.problems()
        if problems:
            raise ConfigError("; ".join(problems))

    def problems(self) -> list[str]:
        """Every reason this configuration cannot work (empty when it is fine)."""
        return [message for _, message in self.field_problems()]

    def field_problems(self) -> list[tuple[str, str]]:
        """Every reason this configuration cannot work, with the field it is about."""
        found: list[tuple[str, str]] = []
        if not self.host or any(char in self.host for char in "/ "):
            found.append(("host", f"host {self.host!r} is not a host name or address"))
        if not isinstance(self.ws_port, int) or not 0 < self.ws_port < 65536:
            found.append(("ws_port", f"ws_port {self.ws_port!r} is not a port number (1-65535)"))
        cid = charger_id_of(self.cp_path)
        if not cid.strip():
            found.append(("cp_path", "cp_path must end with the charger id"))
        elif len(cid) > MAX_CHARGER_ID or ":" in cid or any(ord(c) < 32 for c in cid):
            limit = f"at most {MAX_CHARGER_ID} characters, no ':'"
            found.append(("cp_path", f"charger id {cid!r}: {limit}"))
        if self.rfid is not None and not 0 < len(self.rfid) <= 20:
            found.append(("rfid", "rfid must be 1 to 20 characters"))
        if not 0 < len(self.default_id_tag) <= 20:
            found.append(("default_id_tag", "default_id_tag must be 1 to 20 characters"))
        for name in ("interval", "duration", "connect_timeout", "call_timeout", "voltage"):
            if not getattr(self, name) > 0:
                found.append((name, f"{name} must be greater than 0"))
        if self.phases not in (1, 3):
            found.append(("phases", "phases must be 1 or 3"))
        if self.battery_kwh <= 0:
            found.append(("battery_kwh", "battery_kwh must be greater than 0"))
        if self.pre_charge_delay < 0:
            found.append(("pre_charge_delay", "pre_charge_delay must not be negative"))
        kwh_min = self._default_kwh_min() if self.kwh_min is None else self.kwh_min
        if not 0 <= kwh_min <= self.kwh_max:
            found.append(("kwh_max", "need 0 <= kwh_min <= kwh_max"))
        if not isinstance(self.connectors, int) or self.connectors < 1:
            found.append(("connectors", "connectors must be at least 1"))
        if self.meter_start_wh < 0:
            found.append(("meter_start_wh", "meter_start_wh must not be negative"))
        if self.boot_attempts < 1:
            found.append(("boot_attempts", "boot_attempts must be at least 1"))
        if not 0 < self.reconnect_min <= self.reconnect_max:
            found.append(("reconnect_max", "need 0 < reconnect_min <= reconnect_max"))
        if self.password is not None and not self.password:
            found.append(("password", "password must not be empty"))
        return found

    def _default_kwh_min(self) -> float:
        """kwh_min when none is given: the default, or kwh_max when that is lower."""
        if isinstance(self.kwh_max, int | float):
            return min(DEFAULT_KWH_MIN, self.kwh_max)
        return DEFAULT_KWH_MIN  # a bad kwh_max is reported by problems()

    @property
    def charger_id(self) -> str:
        """The charger id (last segment of ``cp_path``)."""
        return charger_id_of(self.cp_path)

    @property
    def url(self) -> str:
        """The full WebSocket URL the simulator connects to."""
        scheme = "wss" if self.tls else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.ws_port}/{self.cp_path.lstrip('/')}"

    @property
    def basic_auth_user(self) -> str | None:
        """The HTTP Basic username sent, or None when no password is configured."""
        if self.password is None:
            return None
        return self.username or self.charger_id

    def replace(self, **changes: Any) -> SimulatorConfig:
        """A copy with some fields changed (validated again); a kwh_min that was left
        out still follows kwh_max."""
        if self._kwh_min_follows and "kwh_min" not in changes:
            changes["kwh_min"] = None
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (the password is left out)."""
        data = dataclasses.asdict(self)
        del data["_kwh_min_follows"]
        data["password"] = None if self.password is None else "***"
        return data

    @classmethod
    def from_url(cls, url: str, charger_id: str | None = None, **fields: Any) -> SimulatorConfig:
        """A configuration for ``url`` (``ws://host:port/path/``), optionally with a
        charger id appended to its path."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"bad URL {url!r}: {exc}") from None
        if parts.scheme not in ("ws", "wss"):
            raise ConfigError(f"URL {url!r} must start with ws:// or wss://")
        if not parts.hostname:
            raise ConfigError(f"URL {url!r} has no host")
        tls = parts.scheme == "wss"
        path = parts.path.lstrip("/")
        if charger_id is not None:
            if path and not path.endswith("/"):
                path += "/"
            path += quote(charger_id, safe="") + "/"
        return cls(
            host=parts.hostname,
            ws_port=port or (443 if tls else 80),
            cp_path=path,
            tls=tls,
            **fields,
        )
