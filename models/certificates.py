"""The ``certificates`` collection: charger certificates we issued, and CSRs kept for an
external CA.

An issued certificate: ``{_id: "<serial hex>", kind: "issued", charger, serial, subject,
not_before, not_after, pem, created, source ("ca" or "external"), current}``; ``current``
is true for the newest certificate of each charger only (the one renewal watches), and
``renewal_requested`` is set when we asked the charger for a new CSR.

A CSR for an external CA: ``{_id: ObjectId, kind: "csr", charger, csr (PEM), subject,
status ("pending", "signed"), created, serial (once signed)}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

ISSUED = "issued"
CSR = "csr"
PENDING = "pending"
SIGNED = "signed"

INDEXES = [
    IndexModel(
        [("charger", ASCENDING), ("kind", ASCENDING), ("created", DESCENDING)],
        name="charger_kind_created",
    ),
    IndexModel(
        [("not_after", ASCENDING)],
        name="current_not_after",
        partialFilterExpression={"current": True},
    ),
    IndexModel(
        [("kind", ASCENDING), ("status", ASCENDING), ("created", DESCENDING)],
        name="kind_status_created",
    ),
]


class CertificateRepo:
    """Issued charger certificates and CSRs waiting for an external CA."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.certificates

    async def add_issued(
        self, charger: str, serial: str, subject: str, not_before: datetime,
        not_after: datetime, pem: str, now: datetime, source: str = "ca",
    ) -> dict[str, Any]:  # fmt: skip
        """Store a certificate issued to ``charger``; it becomes the charger's current one."""
        await self._coll.update_many(
            {"charger": charger, "kind": ISSUED, "current": True}, {"$set": {"current": False}}
        )
        doc = {"_id": serial, "kind": ISSUED, "charger": charger, "serial": serial,
               "subject": subject, "not_before": not_before, "not_after": not_after,
               "pem": pem, "created": now, "source": source, "current": True}  # fmt: skip
        await self._coll.replace_one({"_id": serial}, doc, upsert=True)
        return doc

    async def for_charger(self, charger: str, limit: int = 50) -> list[dict[str, Any]]:
        """The certificates issued to a charger, newest first."""
        query = {"charger": charger, "kind": ISSUED}
        return await self._coll.find(query).sort("created", DESCENDING).limit(limit).to_list()

    async def has_issued(self, charger: str) -> bool:
        """True when we issued ``charger`` a certificate (the condition for profile 3)."""
        found = await self._coll.find_one({"charger": charger, "kind": ISSUED}, {"_id": 1})
        return found is not None

    async def expiring(self, before: datetime, limit: int = 500) -> list[dict[str, Any]]:
        """Current certificates that expire before ``before`` and whose renewal was not
        asked for yet, soonest first."""
        query = {"current": True, "not_after": {"$lt": before},
                 "renewal_requested": {"$exists": False}}  # fmt: skip
        return await self._coll.find(query).sort("not_after", ASCENDING).limit(limit).to_list()

    async def current_expiring(self, before: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        """Current certificates that expire before ``before``, renewal asked for or not,
        soonest first (the partial index ``current_not_after``)."""
        query = {"current": True, "not_after": {"$lt": before}}
        return await self._coll.find(query).sort("not_after", ASCENDING).limit(limit).to_list()

    async def renewal_requested(self, serial: str, now: datetime) -> None:
        """Note that the charger of certificate ``serial`` was asked for a new CSR."""
        await self._coll.update_one({"_id": serial}, {"$set": {"renewal_requested": now}})

    async def add_csr(self, charger: str, csr: str, subject: str, now: datetime) -> str:
        """Keep a CSR for the operator to have signed by an external CA; its id."""
        doc = {"kind": CSR, "charger": charger, "csr": csr, "subject": subject,
               "status": PENDING, "created": now}  # fmt: skip
        result = await self._coll.insert_one(doc)
        return str(result.inserted_id)

    async def pending_csrs(self, limit: int = 100) -> list[dict[str, Any]]:
        """CSRs waiting for an external CA, newest first."""
        query = {"kind": CSR, "status": PENDING}
        return await self._coll.find(query).sort("created", DESCENDING).limit(limit).to_list()

    async def get_csr(self, csr_id: str) -> dict[str, Any] | None:
        """One kept CSR by its id, or None (also for a malformed id)."""
        try:
            key = ObjectId(csr_id)
        except (InvalidId, TypeError):
            return None
        return await self._coll.find_one({"_id": key, "kind": CSR})

    async def csr_signed(self, csr_id: str, serial: str, now: datetime) -> None:
        """Mark a kept CSR as signed by certificate ``serial``."""
        await self._coll.update_one(
            {"_id": ObjectId(csr_id)}, {"$set": {"status": SIGNED, "serial": serial, "signed": now}}
        )

    async def delete_for_charger(self, charger: str) -> int:
        """Forget a deleted charger's certificates and CSRs; how many went."""
        result = await self._coll.delete_many({"charger": charger})
        return result.deleted_count
