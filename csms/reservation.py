"""Reservation: ReserveNow and CancelReservation, and the reservation a StartTransaction uses.

The ``reservations`` collection keeps every request and what became of it
(``models.reservations``).
"""

from __future__ import annotations

from typing import Any

from csms.authorization import authorize_request
from csms.context import CallContext
from csms.registry import DISCONNECTED, TIMEOUT, Outcome
from csms.remote_params import ParameterError
from csms.request import Request
from models.rfid import tag_key
from ocppj.timeutil import parse_datetime


async def _own_reservation(req: Request, reservation_id: int) -> dict[str, Any] | None:
    existing = await req.services.reservations.get(reservation_id)
    if existing is not None and existing.get("charger") != req.charger_id:
        raise ParameterError("reservation_id", f"reservation {reservation_id} is another charger's")
    return existing


async def prepare_reservation(req: Request) -> None:
    """Expiry in the future, an authorized tag, a reservation id (new unless given)."""
    if parse_datetime(req.payload["expiryDate"]) <= req.now:
        raise ParameterError("expiry_date", "must be in the future")
    info = await authorize_request(req, "id_tag", starting=False)
    if "parentIdTag" not in req.payload and "parentIdTag" in info:
        # The charger may then let any tag of the same group use the reservation.
        req.payload["parentIdTag"] = info["parentIdTag"]
    repo = req.services.reservations
    reservation_id = req.values.get("reservation_id")
    if reservation_id is None:
        reservation_id = await repo.next_id()
    else:
        req.scratch["existing"] = await _own_reservation(req, reservation_id)
        await repo.claim_id(reservation_id)
    req.payload["reservationId"] = reservation_id
    req.meta["reservation_id"] = reservation_id


async def after_reservation(req: Request, outcome: Outcome) -> None:
    """Store the reservation with what the charger said (a refused one keeps the old)."""
    existing = req.scratch.get("existing")
    if not outcome.ok and existing is not None and existing.get("status") == "accepted":
        return
    if outcome.answered:
        status = str(outcome.payload["status"]).lower()
    else:
        status = "unconfirmed" if outcome.status in (TIMEOUT, DISCONNECTED) else "failed"
    payload = req.payload
    await req.services.reservations.store(
        {
            "_id": payload["reservationId"],
            "charger": req.charger_id,
            "connector": payload["connectorId"],
            "id_tag": payload["idTag"],
            "id_tag_key": tag_key(payload["idTag"]),
            "parent_id_tag": payload.get("parentIdTag"),
            "expiry": parse_datetime(payload["expiryDate"]),
            "status": status,
            "ts": req.now,
            "updated": req.now,
            "command_id": outcome.command_id,
        }
    )


async def check_cancel(req: Request) -> None:
    """A reservation we know must be this charger's."""
    await _own_reservation(req, req.payload["reservationId"])


async def after_cancel(req: Request, outcome: Outcome) -> None:
    """An accepted cancel marks the reservation cancelled."""
    if outcome.ok:
        await req.services.reservations.set_status(
            req.payload["reservationId"], "cancelled", req.now, cancel_command_id=outcome.command_id
        )


async def use_reservation(ctx: CallContext, reservation_id: int, tx_id: int) -> None:
    """A start that names a reservation of this charger ends that reservation."""
    repo = ctx.services.reservations
    reservation = await repo.get(reservation_id)
    if reservation is None or reservation.get("charger") != ctx.charger_id:
        await ctx.services.anomalies.record(
            ctx.charger_id, "start_unknown_reservation", ctx.now, reservation=reservation_id
        )
        return
    await repo.set_status(reservation_id, "used", ctx.now, transaction_id=tx_id)
