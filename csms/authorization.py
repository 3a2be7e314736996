"""Authorization of idTags (the ``Authorize`` action and the idTagInfo of transactions).

Two rules, in this order:

1. A tag the operator knows (``rfid_tags``) is judged by its record on every charger:
   Blocked, Expired, ConcurrentTx (at its maximum of open sessions, StartTransaction
   only), else Accepted; ``parentIdTag`` and ``expiryDate`` come from the record.
2. A tag nobody knows is Accepted, unless the charger has ``require_rfid`` on: then it
   is Invalid.

Only sessions on chargers that check tags (``require_rfid`` on when the session
started, stored as ``tag_checked``) count toward a tag's ConcurrentTx limit: a
charger without it accepts any idTag text, so a session there proves nothing about
who holds the tag, and must not use up the driver's sessions on chargers that check.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.context import CallContext
from csms.remote_params import Refused
from csms.request import Request
from models.rfid import tag_key
from ocppj.timeutil import format_datetime

if TYPE_CHECKING:
    from csms.services import Services


async def id_tag_info(ctx: CallContext, id_tag: str, starting: bool = False) -> dict[str, Any]:
    """The idTagInfo for ``id_tag`` on the charger that sent the CALL (``tag_info``)."""
    return await tag_info(ctx.services, ctx.charger_id, id_tag, ctx.now, starting)


async def tag_info(
    services: Services, charger_id: str, id_tag: str, now: datetime, starting: bool = False
) -> dict[str, Any]:
    """The idTagInfo for ``id_tag`` on ``charger_id`` at ``now``.

    ``starting`` adds the ConcurrentTx check (a tag may hold
    ``max_active_transactions`` sessions on chargers that check tags); it is not
    applied to Authorize, which a charger also sends to stop a session.
    """
    tag = await services.rfid.get(id_tag)
    if tag is None:
        charger = await services.chargers.get(charger_id)
        return {"status": "Invalid" if (charger or {}).get("require_rfid") else "Accepted"}
    info: dict[str, Any] = {}
    expiry = tag.get("expiry")
    if expiry is not None:
        info["expiryDate"] = format_datetime(expiry)
    if tag.get("parent_id_tag"):
        info["parentIdTag"] = tag["parent_id_tag"]
    if tag.get("status") == "blocked":
        return {"status": "Blocked", **info}
    if expiry is not None and expiry <= now:
        return {"status": "Expired", **info}
    if starting:
        active = await services.transactions.count_open_for_tag(tag_key(id_tag))
        if active >= int(tag.get("max_active_transactions") or 1):
            return {"status": "ConcurrentTx", **info}
    return {"status": "Accepted", **info}


async def authorize(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Authorize.req -> Authorize.conf."""
    return {"idTagInfo": await id_tag_info(ctx, payload["idTag"])}


async def authorize_request(req: Request, name: str, starting: bool) -> dict[str, Any]:
    """The tag's idTagInfo; refuse a tag that would fail authorization on this charger
    (``csms.authorization``)."""
    info = await tag_info(req.services, req.charger_id, req.values[name], req.now, starting)
    if info["status"] != "Accepted":
        raise Refused(name, f"the tag is not authorized on this charger ({info['status']})", info)
    return info
