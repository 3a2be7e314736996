"""Calls to chargers whose socket another instance holds, through ``commands``.

The caller (any instance) stores the command with ``relay_from`` / ``relay_to``
and the payload to send (``relay_payload``; the stored ``payload`` is redacted as
always), having first opened a change stream on that one command. The holder
follows a change stream of the commands relayed to it (``Instances``), sends each
through its registry (same queueing, timeout, validation of the reply) and writes
the outcome on the command, dropping ``relay_payload``. The caller's stream
delivers that update; the outcome is the same typed one a local call gives. No
reply within the timeout plus ``GRACE_S`` (the holder died meanwhile) is a
``timeout``, written on the command unless the holder finished it first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pymongo.errors import PyMongoError

from csms.registry import CANCELLED, NOT_CONNECTED, TIMEOUT, ConnectionRegistry, Outcome
from models.commands import PENDING, CommandRepo, new_command
from ocppj import frames
from ocppj.redaction import redact_payload
from ocppj.timeutil import utcnow

log = logging.getLogger("csms.command_relay")

GRACE_S = 5.0  # the holder's own timeout runs first; then a database round trip or two


class CommandRelay:
    """Relays calls to the instance that holds the charger, and runs those relayed here."""

    def __init__(self, commands: CommandRepo, registry: ConnectionRegistry, instance: str):
        self.commands = commands
        self.registry = registry
        self.instance = instance
        self._serving: set[asyncio.Task] = set()
        self.relayed = 0  # calls sent to another instance
        self.served = 0  # calls another instance relayed here

    async def call(
        self, charger_id: str, holder: str, action: str, payload: dict[str, Any],
        timeout: float, **meta: Any,
    ) -> Outcome:  # fmt: skip
        """Have ``holder`` send ``action`` to the charger; its outcome (validated already)."""
        command_id = frames.new_id()
        doc = new_command(command_id, charger_id, action, redact_payload(action, payload),
                          utcnow(), **meta)  # fmt: skip
        doc |= {"relay_from": self.instance, "relay_to": holder, "relay_payload": payload,
                "relay_timeout": timeout}  # fmt: skip
        self.relayed += 1
        try:
            async with await self.commands.watch_one(command_id) as stream:
                await self.commands.insert(doc)
                async with asyncio.timeout(timeout + GRACE_S):
                    async for change in stream:
                        finished = change.get("fullDocument") or {}
                        if finished.get("status", PENDING) != PENDING:
                            return outcome_of(finished)
        except TimeoutError:
            why = f"no answer from instance {holder} in {timeout + GRACE_S:g} s"
            return await self._give_up(doc, Outcome(TIMEOUT, description=why))
        except asyncio.CancelledError:
            await self._give_up(doc, Outcome(CANCELLED, description="caller gave up"))
            raise
        except PyMongoError as exc:
            why = f"relay to instance {holder} failed: {exc}"
            return await self._give_up(doc, Outcome(TIMEOUT, description=why))
        return await self._give_up(doc, Outcome(TIMEOUT, description="relay stream ended"))

    async def _give_up(self, doc: dict[str, Any], outcome: Outcome) -> Outcome:
        """Finish the command with ``outcome`` unless the holder did first (then its)."""
        fields = {"status": outcome.status, "description": outcome.description,
                  "finished_ts": utcnow(), "relay_payload": None}  # fmt: skip
        if not await self.commands.finish_pending(doc["_id"], fields):
            stored = await self.commands.get(doc["_id"])
            if stored is not None:
                return outcome_of(stored)
        outcome.command_id = outcome.unique_id = doc["_id"]
        outcome.request = doc["payload"]
        return outcome

    async def arrived(self, change: dict[str, Any]) -> None:
        """A command relayed to this instance: send it without holding up the stream."""
        doc = change.get("fullDocument")
        if doc:
            self.served += 1
            task = asyncio.get_running_loop().create_task(self._serve(doc))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def _serve(self, doc: dict[str, Any]) -> None:
        payload = doc.pop("relay_payload", None) or {}
        try:
            await self.registry.run_stored(doc, payload, doc.get("relay_timeout"))
        except Exception:
            log.exception("relayed command %s failed", doc.get("_id"))


def outcome_of(doc: dict[str, Any]) -> Outcome:
    """The typed outcome a finished command document records."""
    status = doc.get("status") or NOT_CONNECTED
    return Outcome(
        status,
        doc.get("reply") or {},
        doc.get("error_code"),
        doc.get("description") or "",
        unique_id=doc["_id"],
        command_id=doc["_id"],
        request=doc.get("payload") or {},
        sent=doc.get("sent_ts") is not None,
        details=doc.get("error_details") or {},
    )
