"""Authorization of idTags (the ``Authorize`` action and the idTagInfo of transactions)."""

from __future__ import annotations

from typing import Any

from csms.context import CallContext
from models.rfid import tag_key
from ocppj.timeutil import format_datetime


async def id_tag_info(ctx: CallContext, id_tag: str, starting: bool = False) -> dict[str, Any]:
    """The idTagInfo for ``id_tag`` on this charger.

    Without ``require_rfid`` every tag is Accepted. With it, the tag must be
    in ``rfid_tags``, not blocked and not expired. ``starting`` adds the
    ConcurrentTx check (a tag may hold ``max_active_transactions`` sessions);
    it is not applied to Authorize, which a charger also sends to stop.
    """
    services = ctx.services
    charger = await services.chargers.get(ctx.charger_id)
    if not (charger or {}).get("require_rfid"):
        return {"status": "Accepted"}
    tag = await services.rfid.get(id_tag)
    if tag is None:
        return {"status": "Invalid"}
    info: dict[str, Any] = {}
    expiry = tag.get("expiry")
    if expiry is not None:
        info["expiryDate"] = format_datetime(expiry)
    if tag.get("parent_id_tag"):
        info["parentIdTag"] = tag["parent_id_tag"]
    if tag.get("status") == "blocked":
        return {"status": "Blocked", **info}
    if expiry is not None and expiry <= ctx.now:
        return {"status": "Expired", **info}
    if starting:
        active = await services.transactions.count_open_for_tag(tag_key(id_tag))
        if active >= int(tag.get("max_active_transactions") or 1):
            return {"status": "ConcurrentTx", **info}
    return {"status": "Accepted", **info}


async def authorize(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Authorize.req -> Authorize.conf."""
    return {"idTagInfo": await id_tag_info(ctx, payload["idTag"])}
