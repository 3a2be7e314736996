"""The alert collections: ``alerts`` (open and closed), ``alert_rules`` (the operator's
thresholds), ``alert_channels`` (webhooks, e-mail), ``alert_deliveries`` (the durable,
ordered outbox of each channel) and ``charger_boots`` (boot times for the reboot-loop
rule, expired by a TTL index).

At most one alert per (rule, charger) is open: a unique partial index says so, so two
evaluations racing cannot open two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from models.batch import BatchInserter
from models.counters import Counters

DELIVERY_SEQUENCE = "alert_deliveries"
BOOT_TTL_SECONDS = 2 * 24 * 3600
PENDING = "pending"
DELIVERED = "delivered"
CANCELLED = "cancelled"

INDEXES: dict[str, list[IndexModel]] = {
    "alerts": [
        IndexModel(
            [("rule", ASCENDING), ("charger", ASCENDING)],
            name="one_open",
            unique=True,
            partialFilterExpression={"open": True},
        ),
        IndexModel([("opened", DESCENDING)], name="opened"),
        IndexModel([("open", ASCENDING), ("opened", DESCENDING)], name="open_opened"),
        IndexModel([("charger", ASCENDING), ("opened", DESCENDING)], name="charger_opened"),
        IndexModel([("rule", ASCENDING), ("opened", DESCENDING)], name="rule_opened"),
    ],
    "alert_rules": [],
    "alert_channels": [],
    "alert_deliveries": [
        IndexModel(
            [("channel", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)],
            name="channel_status_seq",
        ),
        IndexModel([("alert", ASCENDING), ("seq", ASCENDING)], name="alert_seq"),
        IndexModel([("seq", DESCENDING)], name="seq"),
    ],
    "charger_boots": [
        IndexModel([("charger", ASCENDING), ("ts", DESCENDING)], name="charger_ts"),
        IndexModel([("ts", ASCENDING)], name="ttl", expireAfterSeconds=BOOT_TTL_SECONDS),
    ],
}


def object_id(value: str) -> ObjectId | None:
    """``value`` as an ObjectId, or None when it is not one."""
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


class AlertRepo:
    """Alerts: open once per rule and charger, closed when the condition clears."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.alerts

    async def open(
        self, rule: str, charger: str, now: datetime, detail: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Open an alert; None when one is open already for this rule and charger."""
        doc = {"rule": rule, "charger": charger, "open": True, "opened": now, "closed": None,
               "detail": detail, "acknowledged": None, "updated": now}  # fmt: skip
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:
            return None
        return doc

    async def get_open(self, rule: str, charger: str) -> dict[str, Any] | None:
        """The open alert of this rule and charger, if any."""
        return await self._coll.find_one({"rule": rule, "charger": charger, "open": True})

    async def close(self, rule: str, charger: str, now: datetime) -> dict[str, Any] | None:
        """Close the open alert of this rule and charger; the closed alert, or None."""
        return await self._coll.find_one_and_update(
            {"rule": rule, "charger": charger, "open": True},
            {"$set": {"open": False, "closed": now, "updated": now}},
            return_document=ReturnDocument.AFTER,
        )

    async def open_keys(self) -> set[tuple[str, str]]:
        """(rule, charger) of every open alert (index open_opened)."""
        cursor = self._coll.find({"open": True}, {"rule": 1, "charger": 1})
        return {(doc["rule"], doc["charger"]) async for doc in cursor}

    async def open_of_rule(self, rule: str) -> list[dict[str, Any]]:
        """Every open alert of a rule."""
        return await self._coll.find({"rule": rule, "open": True}).to_list()

    async def acknowledge(
        self, alert_id: ObjectId, user: str, note: str, now: datetime
    ) -> dict[str, Any] | None:
        """Record who acknowledged the alert and their note; None when there is no such alert."""
        ack = {"by": user, "note": note, "ts": now}
        return await self._coll.find_one_and_update(
            {"_id": alert_id}, {"$set": {"acknowledged": ack, "updated": now}},
            return_document=ReturnDocument.AFTER,
        )  # fmt: skip

    async def get(self, alert_id: ObjectId) -> dict[str, Any] | None:
        """One alert."""
        return await self._coll.find_one({"_id": alert_id})

    async def search(
        self,
        open_only: bool | None = None,
        charger: str | None = None,
        rule: str | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Alerts newest first, filtered; (page, total)."""
        query: dict[str, Any] = {}
        if open_only is not None:
            query["open"] = open_only
        if charger:
            query["charger"] = charger
        if rule:
            query["rule"] = rule
        cursor = self._coll.find(query).sort([("opened", DESCENDING), ("_id", DESCENDING)])
        page = await cursor.skip(skip).limit(limit).to_list()
        return page, await self._coll.count_documents(query)

    async def open_counts(self) -> dict[str, int]:
        """How many alerts are open, by rule."""
        pipeline = [{"$match": {"open": True}}, {"$group": {"_id": "$rule", "n": {"$sum": 1}}}]
        rows = await (await self._coll.aggregate(pipeline)).to_list()
        return {row["_id"]: row["n"] for row in rows}


class AlertRuleRepo:
    """The operator's settings of each rule (``_id`` the rule name); defaults live in
    ``csms.alert_rules``."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.alert_rules

    async def all(self) -> dict[str, dict[str, Any]]:
        """Stored settings by rule name."""
        return {doc.pop("_id"): doc async for doc in self._coll.find({})}

    async def set(self, rule: str, fields: dict[str, Any]) -> None:
        """Store the given settings of a rule."""
        await self._coll.update_one({"_id": rule}, {"$set": fields}, upsert=True)


class AlertChannelRepo:
    """Where alerts are delivered: webhooks and e-mail recipients."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.alert_channels

    async def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Store a new channel (an ``_id`` in ``doc`` is kept: channels from flags)."""
        await self._coll.insert_one(doc)
        return doc

    async def upsert(self, channel_id: str, doc: dict[str, Any]) -> None:
        """Create or replace a channel with a fixed id (the server flags' channels)."""
        await self._coll.replace_one({"_id": channel_id}, doc, upsert=True)

    async def list(self) -> list[dict[str, Any]]:
        """Every channel."""
        return await self._coll.find({}).sort("created", ASCENDING).to_list()

    async def get(self, channel_id: Any) -> dict[str, Any] | None:
        """One channel."""
        return await self._coll.find_one({"_id": channel_id})

    async def delete(self, channel_id: Any) -> bool:
        """Remove a channel; False when there was none."""
        return (await self._coll.delete_one({"_id": channel_id})).deleted_count == 1


class DeliveryRepo:
    """The outbox: one document per (alert event, channel), sent in ``seq`` order per
    channel, retried until delivered; never deleted by a failure."""

    def __init__(self, db: AsyncDatabase, counters: Counters):
        self._coll = db.alert_deliveries
        self._counters = counters

    async def enqueue(
        self, channel: Any, alert: ObjectId, event: str, payload: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """Queue one delivery (stored before anything is sent)."""
        doc = {"seq": await self._counters.next(DELIVERY_SEQUENCE), "channel": channel,
               "alert": alert, "event": event, "payload": payload, "status": PENDING,
               "attempts": 0, "next_try": now, "last_error": None, "created": now,
               "delivered": None}  # fmt: skip
        await self._coll.insert_one(doc)
        return doc

    async def head(self, channel: Any) -> dict[str, Any] | None:
        """The oldest undelivered delivery of a channel."""
        return await self._coll.find_one(
            {"channel": channel, "status": PENDING}, sort=[("seq", ASCENDING)]
        )

    async def delivered(self, delivery_id: ObjectId, now: datetime) -> None:
        """Mark a delivery done."""
        await self._coll.update_one(
            {"_id": delivery_id},
            {"$set": {"status": DELIVERED, "delivered": now}, "$inc": {"attempts": 1}},
        )

    async def failed(self, delivery_id: ObjectId, error: str, next_try: datetime) -> None:
        """Count a failed attempt and when to try again."""
        await self._coll.update_one(
            {"_id": delivery_id},
            {"$set": {"last_error": error[:500], "next_try": next_try}, "$inc": {"attempts": 1}},
        )

    async def cancel_channel(self, channel: Any) -> None:
        """A deleted channel's undelivered deliveries are kept, marked cancelled."""
        await self._coll.update_many(
            {"channel": channel, "status": PENDING}, {"$set": {"status": CANCELLED}}
        )

    async def for_alert(self, alert: ObjectId) -> list[dict[str, Any]]:
        """Deliveries of one alert, in order."""
        return await self._coll.find({"alert": alert}).sort("seq", ASCENDING).to_list()

    async def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest deliveries."""
        return await self._coll.find({}).sort("seq", DESCENDING).limit(limit).to_list()


class BootLog:
    """When each charger booted (the boot history); expired after two days.

    Boots are written in batches (``writer``): a reconnect storm of thousands of
    chargers is one insert per batch, not one each. The reboot-loop rule counts the
    boots kept on the charger document instead (``recent_boots``), which admission has
    read anyway: no query per boot; the sweep closing an alert counts here."""

    def __init__(self, db: AsyncDatabase, writer: BatchInserter | None = None):
        self._coll = db.charger_boots
        self.writer = writer or BatchInserter(db.charger_boots)

    def record(self, charger: str, ts: datetime) -> None:
        """Note a BootNotification (buffered)."""
        self.writer.add({"charger": charger, "ts": ts})

    async def count_since(self, charger: str, since: datetime) -> int:
        """Boots of a charger since ``since``, the buffered ones included (the sweep that
        closes a reboot-loop alert asks, once per open alert)."""
        await self.writer.flush()
        return await self._coll.count_documents({"charger": charger, "ts": {"$gte": since}})
