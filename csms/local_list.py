"""Local authorization list management: SendLocalList and GetLocalListVersion.

The list is built from ``rfid_tags``; ``local_lists`` keeps what each charger
holds (``models.local_list``).
"""

from __future__ import annotations

from csms.configuration import config_limit, reported_config
from csms.registry import Outcome
from csms.remote_params import ParameterError
from csms.request import Request
from models.local_list import differential, entries_from_tags, merged
from models.rfid import tag_key


async def prepare_local_list(req: Request) -> None:
    """Build the list from ``rfid_tags`` (or take the ``entries`` given): Full, or the
    Differential against what we sent."""
    repo = req.services.local_lists
    state = await repo.get(req.charger_id) or {}
    held = state.get("entries", [])
    update_type = req.values.get("update_type", "Full")
    id_tags = req.values.get("id_tags")
    given = req.values.get("entries")
    if given is not None and id_tags is not None:
        raise ParameterError("entries", "give either entries or id_tags, not both")
    if given is not None:
        wanted = sorted(given, key=lambda entry: tag_key(str(entry.get("idTag", ""))))
        id_tags = [entry.get("idTag") for entry in wanted]  # a Differential sends them all
    else:
        wanted = await entries_from_tags(req.services.db, req.now, id_tags)
    if update_type == "Full":
        missing = [entry["idTag"] for entry in wanted if "idTagInfo" not in entry]
        if missing and given is not None:
            raise ParameterError("entries", f"a Full list cannot remove {missing[0][:20]!r}")
        if missing:
            raise ParameterError("id_tags", f"not in the RFID list: {', '.join(missing)[:200]}")
        update, after = wanted, wanted
    else:
        update = wanted if id_tags is not None else differential(held, wanted)
        after = merged(held, update)
    keys, _ = await reported_config(req)
    most = config_limit(keys, "SendLocalListMaxLength")
    if most is not None and len(update) > most:
        raise ParameterError("id_tags", f"{len(update)} entries; the charger takes {most} at once")
    most = config_limit(keys, "LocalAuthListMaxLength")
    if most is not None and len(after) > most:
        raise ParameterError("id_tags", f"the list would hold {len(after)}; the charger {most}")
    version = req.values.get("list_version")
    if version is None:
        version = max(state.get("version") or 0, state.get("charger_version") or 0) + 1
    req.payload.update(
        {"listVersion": version, "updateType": update_type, "localAuthorizationList": update}
    )
    req.scratch["after"] = after


async def after_local_list(req: Request, outcome: Outcome) -> None:
    """Remember the answer; an accepted list becomes the charger's version and entries."""
    if not outcome.answered:
        return
    repo = req.services.local_lists
    if outcome.ok:
        await repo.record_sent(
            req.charger_id,
            req.payload["listVersion"],
            req.scratch["after"],
            req.payload["updateType"],
            req.now,
            outcome.command_id,
        )
    else:
        await repo.record_answer(req.charger_id, outcome.payload["status"], req.now)


async def after_local_list_version(req: Request, outcome: Outcome) -> None:
    """Record the version the charger reports."""
    if outcome.answered:
        version = outcome.payload["listVersion"]
        await req.services.local_lists.record_version(req.charger_id, version, req.now)
