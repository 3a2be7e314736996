"""What an action handler gets besides the payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from csms.services import Services


@dataclass(slots=True)
class ConnectionState:
    """Per-connection memory the handlers share (lives as long as the socket)."""

    charger_id: str
    booted: bool = False
    known: bool = False
    connector_ts: dict[int, datetime] = field(default_factory=dict)
    # connector -> its last status (from the charger document at connection, then ours)
    statuses: dict[int, str] = field(default_factory=dict)
    # transaction id -> its start time when the sender owns it, None when it does not
    transactions_seen: dict[int, datetime | None] = field(default_factory=dict)
    name: str | None = None  # the charger's name when the connection opened
    # The charger's boots in the reboot-loop window (its document's ``recent_boots`` at
    # connection, then ours).
    recent_boots: list[datetime] = field(default_factory=list)
    # transaction id -> whether its connector is idle now (csms.billing), once known
    idle: dict[int, bool] = field(default_factory=dict)


@dataclass(slots=True)
class CallContext:
    """One incoming CALL: who sent it, when it arrived, and the services to act with."""

    charger_id: str
    services: Services
    now: datetime
    state: ConnectionState
