"""The ``chargers`` collection: one document per charge point, ``_id`` = charger id."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from models.batch import BatchedReader, StateUpdater, upsert_args

ONLINE = "online"
OFFLINE = "offline"
# Where a word starts inside an id, name or model: after a separator or a space.
_WORD_START = re.compile(r"(?<=[\s\-_.:/*#,;|+])(?=\S)")


def search_terms(doc: dict[str, Any]) -> list[str]:
    """The lower-cased words a charger is found by (``search``, indexed): its id, name,
    vendor, model and serial, each whole and from every word start on (``DE-ACME-0001``
    is found by ``de-``, ``acme`` and ``0001``)."""
    boot = doc.get("boot") or {}
    terms: set[str] = set()
    for value in (doc.get("_id"), doc.get("name"), boot.get("vendor"), boot.get("model"),
                  boot.get("serial")):  # fmt: skip
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip().lower()
        terms.add(text)
        terms.update(text[match.start() :] for match in _WORD_START.finditer(text))
    return sorted(terms)


def connector_statuses(connectors: dict[str, Any] | None) -> list[str]:
    """The distinct statuses of a charger's connectors (``statuses``, indexed)."""
    found = {
        state.get("status")
        for state in (connectors or {}).values()
        if isinstance(state, dict) and state.get("status")
    }
    return sorted(found)


def search_query(q: str | None = None, status: str | None = None) -> dict[str, Any]:
    """The query of ``ChargerRepo.search``: ``q`` matches the start of a search term;
    ``status`` is ``online``, ``offline`` or a connector status of a connected charger
    (an offline charger's statuses are stale)."""
    query: dict[str, Any] = {}
    if q is not None and q.strip():
        prefix = q.strip().lower()
        # Strings compare by their UTF-8 bytes: U+10FFFF is above every character.
        # $elemMatch: one term must be within both bounds (a range on an array otherwise
        # matches when any term is above the start and any other below the end).
        query["search"] = {"$elemMatch": {"$gte": prefix, "$lt": prefix + "\U0010ffff"}}
    if status == ONLINE:
        query["connected"] = True
    elif status == OFFLINE:
        query["connected"] = {"$ne": True}
    elif status is not None:
        query["connected"] = True
        query["statuses"] = status
    return query


def new_charger(
    charger_id: str, now: datetime, require_rfid: bool = False, security_profile: int = 0
) -> dict[str, Any]:
    """The document of a charger nobody has configured yet (``require_rfid`` and
    ``security_profile``: the server's defaults for new chargers; profile 1-2 without a
    key refuses the charger until an operator sets one)."""
    security = {"security": {"profile": security_profile}} if security_profile else {}
    return security | {
        "_id": charger_id,
        "name": charger_id,
        "config": {},
        "require_rfid": require_rfid,
        "latitude": None,
        "longitude": None,
        "last_path": None,
        "boot": None,
        "last_heartbeat": None,
        "last_seen": None,
        "last_meter_values": None,
        "connectors": {},
        "statuses": [],
        "search": search_terms({"_id": charger_id, "name": charger_id}),
        "connected": False,
        "created": now,
        "updated": now,
    }


class ChargerRepo:
    """Reads and writes charger documents; frequent state goes through batched updaters.

    ``state`` (fast, ~100 ms) carries what operators watch: connector statuses and
    the connection flag. ``observed`` (slow, seconds) carries what only needs to be
    roughly current in the database: last heartbeat, last seen, last meter values;
    coalescing many of those into one write per charger is the point. Readers
    that must be exact call ``flush()`` first. ``require_rfid_default`` and
    ``default_security_profile`` are those of chargers created from now on (registered or
    added by hand).
    """

    def __init__(
        self,
        db: AsyncDatabase,
        state: StateUpdater,
        observed: StateUpdater | None = None,
        *,
        require_rfid_default: bool = False,
        default_security_profile: int = 0,
    ):
        self._coll = db.chargers
        # Single reads (admission of every connection above all) coalesced per loop pass.
        self._reader = BatchedReader(db.chargers)
        self.state = state
        self.observed = observed or state
        self.require_rfid_default = require_rfid_default
        self.default_security_profile = default_security_profile
        # Chargers changed by the rare writes (created, renamed, booted, deleted) since
        # the fleet overview last asked (``take_dirty``); statuses reach it by the bus.
        self._dirty: set[str] = set()
        # Several instances (csms.instances): fields a connection adds to the charger
        # (holder, held_since, lease_until) given the time; None with one instance.
        self.lease: Callable[[datetime], dict[str, Any]] | None = None

    def take_dirty(self) -> set[str]:
        """The ids of chargers changed by the rare writes since the last call (a new
        charger not written yet stays for the next call)."""
        dirty = {cid for cid in self._dirty if not self.state.is_new(cid)}
        self._dirty -= dirty
        return dirty

    async def every(self, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        """Every charger, only ``fields`` of it (the fleet overview's one full read)."""
        return await self._coll.find({}, dict.fromkeys(fields, 1)).to_list()

    async def flush(self) -> None:
        """Write every queued charger update now."""
        await self.state.flush()
        if self.observed is not self.state:
            await self.observed.flush()

    async def get(self, charger_id: str) -> dict[str, Any] | None:
        """The charger document, or None (concurrent reads share one query). A new
        charger whose document is still queued is written first."""
        if self.state.is_new(charger_id):
            await self.state.write_now(charger_id)
        return await self._reader.get(charger_id)

    async def get_many(
        self, charger_ids: list[str], fields: tuple[str, ...] = ()
    ) -> dict[str, dict[str, Any]]:
        """The charger documents of ``charger_ids`` by id (only ``fields`` of them when
        given; unknown ids are left out): one query per 1,000 ids on ``_id``, not one each."""
        ids = sorted(set(charger_ids))
        projection = dict.fromkeys(fields, 1) or None
        found: dict[str, dict[str, Any]] = {}
        for n in range(0, len(ids), 1000):
            cursor = self._coll.find({"_id": {"$in": ids[n : n + 1000]}}, projection)
            async for doc in cursor:
                found[doc["_id"]] = doc
        return found

    async def connect(
        self, charger_id: str, path: str, now: datetime, known: dict | None = None,
        *, absent: bool = False,
    ) -> tuple[dict, bool]:  # fmt: skip
        """Record a connection; create the charger when unknown. Returns (doc, created).

        ``known``: the charger's document as just read (admission). With one instance the
        connection is then queued with the charger's fast state (``state``, like its
        connector statuses), not written at once: the BootNotification that follows
        takes it into its own update, or the StatusNotifications' batched write carries
        it (a reconnect storm of known chargers pays one charger update each for both,
        not two). Nothing is acknowledged on it; the close writes it before its own
        conditional update (``disconnected``). With several instances the lease in it
        is written at once, by one plain update (not a find-and-modify, several times
        the cost on the embedded database). ``absent``: admission just found no
        document: with one instance the new charger is queued with the fast state too
        (``StateUpdater.create``), and its BootNotification inserts it with the boot
        information, one upsert (a registration storm pays one write each); readers of
        the one charger (``get``) write it first. With several instances it is inserted
        straight away, and only when another connection created it meanwhile is it read
        and updated."""
        changes = {"last_path": path, "last_seen": now, "connected": True, "connected_at": now}
        if self.lease is None:
            if known is not None:
                self.state.set(charger_id, changes)
                return known | changes, False
            if absent:
                created = not self.state.is_new(charger_id)  # else a second connection
                doc = new_charger(
                    charger_id, now, self.require_rfid_default, self.default_security_profile
                )
                self.state.create(charger_id, doc, changes)
                self._dirty.add(charger_id)
                return doc | changes, created
        if self.lease is not None:
            changes |= self.lease(now)
        if known is not None:
            if (await self._coll.update_one({"_id": charger_id}, {"$set": changes})).matched_count:
                return known | changes, False
        if not absent:
            doc = await self._coll.find_one_and_update(
                {"_id": charger_id}, {"$set": changes}, return_document=True
            )
            if doc is not None:
                return doc, False
        doc = (
            new_charger(charger_id, now, self.require_rfid_default, self.default_security_profile)
            | changes
        )
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:  # another connection created it meanwhile
            return await self.connect(charger_id, path, now)
        self._dirty.add(charger_id)
        return doc, True

    async def disconnected(self, charger_id: str, now: datetime, connected_at: datetime) -> None:
        """Mark the charger offline, unless a newer connection has taken over meanwhile
        (its ``connected_at`` differs): a replaced socket's close must not win. With
        several instances the charger's lease is given up too."""
        changes = {"connected": False, "disconnected_at": now, "last_seen": now}
        if self.lease is not None:
            changes["holder"] = None
        await self.state.write_now(charger_id)  # a queued connection record first
        await self._coll.update_one(
            {"_id": charger_id, "connected_at": connected_at}, {"$set": changes}
        )

    async def handed_back(self, charger_id: str, abandoned_at: datetime, live_at: datetime) -> None:
        """A connection that was given up while it registered (its ``connected_at`` is
        ``abandoned_at``) gives the record back to the connection still live (``live_at``),
        so that the charger shows connected and the live one's close marks it offline."""
        self._dirty.add(charger_id)
        await self.state.write_now(charger_id)
        await self._coll.update_one(
            {"_id": charger_id, "connected_at": abandoned_at},
            {"$set": {"connected": True, "connected_at": live_at}},
        )

    async def record_boot(
        self, charger_id: str, boot: dict[str, Any], now: datetime, name: str | None = None,
        recent_boots: list[datetime] | None = None,
    ) -> None:  # fmt: skip
        """Store the boot information of an accepted BootNotification (written at once),
        with the search terms it brings and the charger's ``recent_boots`` (the reboot-loop
        rule's). ``name`` is the charger's name when the caller knows it (read here
        otherwise). One plain update, which also carries the charger's queued state (the
        connection record above all): on the embedded database a find-and-modify costs
        several times as much, and a storm of boots pays it."""
        if name is None:
            doc = await self._coll.find_one({"_id": charger_id}, {"name": 1})
            name = None if doc is None else doc.get("name")
        terms = search_terms({"_id": charger_id, "name": name, "boot": boot})
        self._dirty.add(charger_id)
        queued, defaults = await self.state.claim(charger_id)
        changes = queued | {"boot": boot, "last_seen": now, "updated": now, "search": terms}
        if recent_boots is not None:
            changes["recent_boots"] = recent_boots
        try:
            await self._coll.update_one(*upsert_args(charger_id, changes, defaults))
        except PyMongoError:
            self.state.put_back(charger_id, queued, defaults)  # not lost
            raise

    async def _refresh_search(self, doc: dict[str, Any] | None) -> None:
        """Store the search terms of ``doc`` when they changed (boot info or name)."""
        if doc is not None and doc.get("search") != (terms := search_terms(doc)):
            await self._coll.update_one({"_id": doc["_id"]}, {"$set": {"search": terms}})

    def touch(self, charger_id: str, fields: dict[str, Any]) -> None:
        """Queue frequent fields (last_heartbeat, last_seen, last_meter_values ...); those
        of a new charger not written yet go with its document."""
        updater = self.state if self.state.is_new(charger_id) else self.observed
        updater.set(charger_id, fields)

    def set_connector(
        self, charger_id: str, connector: int, status: dict[str, Any], statuses: list[str]
    ) -> None:
        """Queue the status of one connector (0 is the charger as a whole) with the distinct
        statuses of all its connectors now."""
        self.state.set(charger_id, {f"connectors.{connector}": status, "statuses": statuses})

    async def update(self, charger_id: str, fields: dict[str, Any]) -> bool:
        """Change fields at once; False when the charger does not exist."""
        self._dirty.add(charger_id)
        if self.state.is_new(charger_id):
            await self.state.write_now(charger_id)
        if "name" not in fields:
            result = await self._coll.update_one({"_id": charger_id}, {"$set": fields})
            return result.matched_count == 1
        doc = await self._coll.find_one_and_update(
            {"_id": charger_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
        )
        await self._refresh_search(doc)
        return doc is not None

    async def search(
        self, q: str | None = None, status: str | None = None, skip: int = 0, limit: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """Chargers by id matching ``search_query(q, status)``: (one page, the total)."""
        query = search_query(q, status)
        page = await self._coll.find(query).sort("_id", 1).skip(skip).limit(limit).to_list()
        return page, await self._coll.count_documents(query)

    async def ids(self, limit: int) -> list[str]:
        """The first ``limit`` charger ids (suggestions in filters)."""
        cursor = self._coll.find({}, {"_id": 1}).sort("_id", 1).limit(limit)
        return [doc["_id"] for doc in await cursor.to_list()]

    async def create(self, charger_id: str, fields: dict[str, Any], now: datetime) -> bool:
        """Add a charger by hand; False when the id exists already."""
        try:
            doc = (
                new_charger(
                    charger_id, now, self.require_rfid_default, self.default_security_profile
                )
                | fields
            )
            doc["search"] = search_terms(doc)  # the name given counts from the start
            self._dirty.add(charger_id)
            await self._coll.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def delete_with_data(self, charger_id: str) -> dict[str, int]:
        """Delete a charger and everything recorded for it; return the counts per collection."""
        db = self._coll.database
        self._dirty.add(charger_id)
        self.state.take(charger_id)  # a queued write would bring it back
        self.observed.take(charger_id)
        counts = {"chargers": (await self._coll.delete_one({"_id": charger_id})).deleted_count}
        for name in ("transactions", "messages", "commands", "anomalies", "security_events",
                     "reservations", "charging_profiles", "certificates"):  # fmt: skip
            counts[name] = (await db[name].delete_many({"charger": charger_id})).deleted_count
        counts["local_lists"] = (await db.local_lists.delete_one({"_id": charger_id})).deleted_count
        # Counted in sampled values, as the operator knows them (measurements hold several).
        mine = {"meta.charger": charger_id}
        values = {"$group": {"_id": None, "n": {"$sum": {"$size": {"$ifNull": ["$samples", []]}}}}}
        counted = await (await db.meter_values.aggregate([{"$match": mine}, values])).to_list()
        await db.meter_values.delete_many(mine)
        counts["meter_values"] = counted[0]["n"] if counted else 0
        return counts

    async def mark_all_offline(self) -> None:
        """At start-up no charger is connected yet."""
        await self._coll.update_many({"connected": True}, {"$set": {"connected": False}})

    async def offline_since(self, cutoff: datetime, limit: int = 10_000) -> list[dict[str, Any]]:
        """Chargers not connected and last heard of before ``cutoff`` (index connected)."""
        query = {"connected": False, "last_seen": {"$lt": cutoff}}
        return await self._coll.find(query, {"last_seen": 1}).limit(limit).to_list()

    async def renew_leases(self, holder: str, until: datetime) -> int:
        """Extend the lease of every charger ``holder`` holds to ``until`` and mark them
        connected again (one update for all of them; index ``holder``); the count."""
        result = await self._coll.update_many(
            {"holder": holder},
            {"$set": {"lease_until": until, "connected": True}},
        )
        return result.modified_count

    async def expire_leases(self, now: datetime) -> int:
        """Mark offline the chargers whose holder stopped renewing (its lease ended
        before ``now``: that instance died); index ``connected_lease``. The count."""
        result = await self._coll.update_many(
            {"connected": True, "lease_until": {"$lt": now}},
            {"$set": {"connected": False, "disconnected_at": now}},
        )
        return result.modified_count

    async def holder(self, charger_id: str) -> dict[str, Any] | None:
        """``{holder, lease_until, connected}`` of a charger (None when unknown)."""
        fields = {"holder": 1, "lease_until": 1, "connected": 1}
        return await self._coll.find_one({"_id": charger_id}, fields)

    async def held_by_others(self, holder: str) -> dict[str, str]:
        """Connected chargers whose socket another instance holds: id -> that instance."""
        query = {"connected": True, "holder": {"$nin": [holder, None]}}
        cursor = self._coll.find(query, {"holder": 1})
        return {doc["_id"]: doc["holder"] async for doc in cursor}

    async def release_all(self, holder: str, now: datetime) -> None:
        """At the start of an instance: the chargers an earlier run of it held are not
        connected (the others' stay as they are, unlike ``mark_all_offline``), nor are
        those a single-instance server left connected (no holder at all)."""
        await self._coll.update_many(
            {"$or": [{"holder": holder}, {"connected": True, "holder": {"$exists": False}}]},
            {"$set": {"connected": False, "holder": None, "disconnected_at": now}},
        )

    async def watch_holders(self, resume_after: Any = None) -> Any:
        """A change stream of chargers whose connection or holder changed (new ones
        too), each with its full document; lease renewals alone are not in it."""
        fields = "updateDescription.updatedFields"
        match = {"$or": [{"operationType": "insert"},
                         {f"{fields}.holder": {"$exists": True}},
                         {f"{fields}.connected": {"$exists": True}}]}  # fmt: skip
        return await self._coll.watch(
            [{"$match": match}], full_document="updateLookup", resume_after=resume_after
        )
