"""The connectors of a simulated charge point: status, availability, meter, session."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocppj.timeutil import format_datetime
from simulator.meter import MeterModel, Reading
from simulator.state import SessionInfo

AVAILABLE = "Available"
UNAVAILABLE = "Unavailable"


@dataclass(eq=False)
class Session:
    """A session in progress: its public info plus what the charging loop needs."""

    info: SessionInfo
    authorize: bool
    stop_reason: str | None = None
    model: MeterModel | None = None
    started_at: float | None = None  # loop time of StartTransaction
    # A StartTransaction / StopTransaction sent whose reply has not come (yet).
    pending_start: dict[str, Any] | None = None
    pending_stop: dict[str, Any] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # A charging profile changed: the charging loop applies the new limit at once.
    limit_changed: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def request_stop(self, reason: str) -> None:
        """Ask the charging loop to end the session (the first reason wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.wake.set()

    def reading(self, now: float) -> Reading | None:
        """The meter now, once the transaction has started."""
        if self.model is None or self.started_at is None:
            return None
        return self.model.reading(now - self.started_at)


class Connectors:
    """Connector 0 is the charge point as a whole; 1..count are the outlets."""

    def __init__(self, count: int, registers: dict[int, int]):
        self.count = count
        self.status: dict[int, str] = {c: AVAILABLE for c in range(count + 1)}
        self.operative: dict[int, bool] = {c: True for c in range(count + 1)}
        # Inoperative requested while a session ran: applied when it ends ("Scheduled").
        self.scheduled_inoperative: set[int] = set()
        # Outlets whose session a charge-point-wide Inoperative (connector 0) waits for.
        self.waiting_for_cp: set[int] = set()
        # connector -> the meter's Energy.Active.Import.Register in Wh (kept across runs)
        self.registers = registers
        self.sessions: dict[int, Session] = {}
        self._changed = asyncio.Event()

    def valid(self, connector: int, allow_zero: bool = False) -> bool:
        """True for an existing outlet (or 0 when ``allow_zero``)."""
        return (0 if allow_zero else 1) <= connector <= self.count

    def is_operative(self, connector: int) -> bool:
        """True when neither the outlet nor the charge point is set Inoperative."""
        return self.operative[0] and self.operative[connector]

    def idle_status(self, connector: int) -> str:
        """The status of a connector with no session."""
        if connector == 0:
            return AVAILABLE if self.operative[0] else UNAVAILABLE
        return AVAILABLE if self.is_operative(connector) else UNAVAILABLE

    def free_connector(self) -> int | None:
        """The first outlet that is operative and has no session."""
        for connector in range(1, self.count + 1):
            if connector not in self.sessions and self.is_operative(connector):
                return connector
        return None

    def by_transaction(self, transaction_id: int) -> Session | None:
        """The session with this transaction id, if it is in progress."""
        for session in self.sessions.values():
            if session.info.transaction_id == transaction_id:
                return session
        return None

    def reserve(self, session: Session) -> None:
        """Put a session on its connector (synchronously, so no one else can)."""
        connector = session.info.connector
        if connector in self.sessions:
            raise RuntimeError(f"connector {connector} is busy")
        self.sessions[connector] = session

    def release(self, session: Session) -> bool:
        """Take a finished session off its connector; True when an Inoperative
        request was waiting for it (it now applies)."""
        connector = session.info.connector
        if self.sessions.get(connector) is session:
            del self.sessions[connector]
        session.done.set()
        if connector in self.scheduled_inoperative:
            self.scheduled_inoperative.discard(connector)
            self.operative[connector] = False
            self._pulse()
            return True
        if connector in self.waiting_for_cp:
            self.waiting_for_cp.discard(connector)
            self._pulse()
            return True
        return False

    def change_availability(self, connector: int, operative: bool) -> tuple[str, list[int]]:
        """ChangeAvailability: (status, connectors whose status changes now)."""
        if not self.valid(connector, allow_zero=True):
            return "Rejected", []
        targets = list(range(1, self.count + 1)) if connector == 0 else [connector]
        changed = []
        scheduled = False
        if connector == 0:
            self.operative[0] = operative
            changed.append(0)
        for target in targets:
            if not operative:
                if target in self.sessions:
                    # The outlet's own Inoperative waits for its session; the charge
                    # point's (connector 0, set above) covers it by itself when it ends.
                    waiting = self.scheduled_inoperative if connector else self.waiting_for_cp
                    waiting.add(target)
                    scheduled = True
                    continue
            else:
                self.scheduled_inoperative.discard(target)
                self.waiting_for_cp.discard(target)
            if connector != 0:
                self.operative[target] = operative
            if target not in self.sessions:
                changed.append(target)
        self._pulse()
        return ("Scheduled" if scheduled else "Accepted"), changed

    async def wait_changed(self) -> None:
        """Wait for the next availability change."""
        await self._changed.wait()

    def _pulse(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def status_payload(self, connector: int, status: str, when: datetime) -> dict[str, Any]:
        """A StatusNotification.req payload; remembers the status."""
        self.status[connector] = status
        return {
            "connectorId": connector,
            "errorCode": "NoError",
            "status": status,
            "timestamp": format_datetime(when),
        }
