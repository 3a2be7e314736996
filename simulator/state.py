"""What a running simulator shows the outside world (the admin page, the command line)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# SimulatorState.status values
IDLE = "idle"
CONNECTING = "connecting"
BOOTING = "booting"
READY = "ready"
STOPPING = "stopping"
STOPPED = "stopped"
FINISHED = "finished"
ERROR = "error"

# SessionInfo.outcome values
ACTIVE = "active"
COMPLETED = "completed"
REJECTED = "rejected"
INTERRUPTED = "interrupted"


class SimulatorError(Exception):
    """Why a simulator could not go on; the message is meant for an operator."""


@dataclass(slots=True)
class SessionInfo:
    """One charging session, current or finished."""

    connector: int
    id_tag: str
    remote: bool = False
    target_wh: int = 0
    transaction_id: int | None = None
    id_tag_status: str | None = None  # the Central System's idTagInfo.status
    energy_wh: int = 0
    meter_start_wh: int | None = None
    meter_stop_wh: int | None = None
    started: datetime | None = None
    stopped: datetime | None = None
    stop_reason: str | None = None
    outcome: str = ACTIVE
    meter_values_sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return dataclasses.asdict(self)


@dataclass(slots=True)
class SimulatorState:
    """Readable state of one simulator; only the simulator writes it."""

    charger_id: str
    url: str
    status: str = IDLE
    running: bool = False
    connected: bool = False
    boot_status: str | None = None
    heartbeat_interval: int | None = None
    heartbeats_sent: int = 0
    connections: int = 0
    # connector -> the session in progress there
    sessions: dict[int, SessionInfo] = field(default_factory=dict)
    last_session: SessionInfo | None = None
    sessions_completed: int = 0
    sessions_rejected: int = 0
    sessions_interrupted: int = 0
    energy_delivered_wh: int = 0  # by finished sessions
    last_error: str | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def current_session(self) -> SessionInfo | None:
        """The session in progress on the lowest connector, if any."""
        return self.sessions[min(self.sessions)] if self.sessions else None

    @property
    def energy_wh(self) -> int:
        """Energy so far: finished sessions plus the ones in progress."""
        return self.energy_delivered_wh + sum(s.energy_wh for s in self.sessions.values())

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for JSON (the admin page polls this)."""
        data = {
            name: getattr(self, name)
            for name in (
                "charger_id", "url", "status", "running", "connected", "boot_status",
                "heartbeat_interval", "heartbeats_sent", "connections", "sessions_completed",
                "sessions_rejected", "sessions_interrupted", "energy_delivered_wh", "energy_wh",
                "last_error", "started_at", "stopped_at",
            )
        }  # fmt: skip
        data["sessions"] = {str(c): s.as_dict() for c, s in self.sessions.items()}
        current = self.current_session
        data["current_session"] = current.as_dict() if current else None
        data["last_session"] = self.last_session.as_dict() if self.last_session else None
        return data
