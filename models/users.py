"""The ``users`` and ``api_tokens`` collections: people with a role, and their API tokens.

A user has a ``role`` (viewer, operator, admin) and may be ``disabled``. An invited user,
or one whose password was reset, has no password but a one-time set-password link (its
digest under ``invite``), valid for ``INVITE_HOURS``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from auth.passwords import DUMMY_HASH, hash_password, new_token, token_digest, verify_password
from auth.roles import ADMIN, is_role, lowest
from ocppj.timeutil import utcnow

INVITE_HOURS = 72


class UserExists(Exception):
    """A user with that name already exists."""


class LastAdmin(Exception):
    """The change would leave no enabled admin."""


class UserRepo:
    """People who may log in."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.users

    async def count(self) -> int:
        """How many users exist."""
        return await self._coll.count_documents({})

    async def get(self, username: str) -> dict[str, Any] | None:
        """The user, or None."""
        return await self._coll.find_one({"username": username})

    async def list(self) -> list[dict[str, Any]]:
        """Every user by name, without password hashes or invite digests."""
        cursor = self._coll.find({}, {"password_hash": 0, "invite.token_hash": 0})
        return await cursor.sort("username", 1).to_list()

    async def _insert(self, doc: dict[str, Any]) -> dict[str, Any]:
        if not is_role(doc["role"]):
            raise ValueError(f"unknown role {doc['role']!r}")
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:
            raise UserExists(doc["username"]) from None
        return doc

    async def create(self, username: str, password: str, role: str = ADMIN) -> dict:
        """Create a user with a password; raise UserExists when the name is taken."""
        return await self._insert({
            "username": username,
            "password_hash": await asyncio.to_thread(hash_password, password),
            "role": role, "disabled": False, "session_version": 0,
            "created": utcnow(), "last_login": None,
        })  # fmt: skip

    async def invite(
        self, username: str, role: str, by: str | None = None, now: datetime | None = None
    ) -> str:
        """Create a user without a password; return the plain one-time set-password token
        (only its digest is stored). Raise UserExists when the name is taken."""
        now = now or utcnow()
        token = new_token()
        await self._insert({
            "username": username, "password_hash": None, "role": role, "disabled": False,
            "session_version": 0, "created": now, "last_login": None, "invited_by": by,
            "invite": _invite(token, now),
        })  # fmt: skip
        return token

    async def reset_link(self, username: str, now: datetime | None = None) -> str | None:
        """A new one-time set-password token for the user (the password is cleared and
        every login session ends); None when there is no such user."""
        token = new_token()
        result = await self._coll.update_one(
            {"username": username},
            {"$set": {"password_hash": None, "invite": _invite(token, now or utcnow())},
             "$inc": {"session_version": 1}},
        )  # fmt: skip
        return token if result.matched_count == 1 else None

    async def by_invite(self, token: str, now: datetime | None = None) -> dict[str, Any] | None:
        """The enabled user a still valid set-password token belongs to, or None."""
        user = await self._coll.find_one({"invite.token_hash": token_digest(token)})
        if user is None or user.get("disabled") or user["invite"]["expires"] <= (now or utcnow()):
            return None
        return user

    async def redeem(
        self, token: str, password: str, now: datetime | None = None
    ) -> dict[str, Any] | None:
        """Set the password of the user a valid set-password token belongs to and spend the
        token (one use); the updated user, or None when the token is unknown or expired."""
        now = now or utcnow()
        hashed = await asyncio.to_thread(hash_password, password)
        return await self._coll.find_one_and_update(
            {"invite.token_hash": token_digest(token), "invite.expires": {"$gt": now},
             "disabled": {"$ne": True}},
            {"$set": {"password_hash": hashed, "last_login": now}, "$unset": {"invite": ""},
             "$inc": {"session_version": 1}},
            return_document=ReturnDocument.AFTER,
        )  # fmt: skip

    async def _other_enabled_admins(self, username: str) -> int:
        return await self._coll.count_documents(
            {"role": ADMIN, "disabled": {"$ne": True}, "username": {"$ne": username}}
        )

    async def _guard_last_admin(self, user: dict[str, Any]) -> None:
        if user.get("role") == ADMIN and not user.get("disabled"):
            if await self._other_enabled_admins(user["username"]) == 0:
                raise LastAdmin(user["username"])

    async def set_role(self, username: str, role: str) -> bool:
        """Change the user's role (takes effect at their next request); False when there is
        no such user; LastAdmin when it would demote the last enabled admin."""
        if not is_role(role):
            raise ValueError(f"unknown role {role!r}")
        user = await self.get(username)
        if user is None:
            return False
        if role != ADMIN:
            await self._guard_last_admin(user)
        await self._coll.update_one({"username": username}, {"$set": {"role": role}})
        return True

    async def set_disabled(self, username: str, disabled: bool) -> bool:
        """Disable (sessions end; login and API tokens are refused) or enable the user;
        False when there is no such user; LastAdmin for the last enabled admin."""
        user = await self.get(username)
        if user is None:
            return False
        if disabled:
            await self._guard_last_admin(user)
        change: dict[str, Any] = {"$set": {"disabled": disabled}}
        if disabled:
            change["$inc"] = {"session_version": 1}
        await self._coll.update_one({"username": username}, change)
        return True

    async def set_password(self, username: str, password: str) -> bool:
        """Change a password and end every login session of the user; False when there is
        no such user."""
        hashed = await asyncio.to_thread(hash_password, password)
        result = await self._coll.update_one(
            {"username": username},
            {"$set": {"password_hash": hashed}, "$unset": {"invite": ""},
             "$inc": {"session_version": 1}},
        )  # fmt: skip
        return result.matched_count == 1

    async def end_sessions(self, username: str) -> None:
        """Invalidate every login cookie of the user (they carry the old session version)."""
        await self._coll.update_one({"username": username}, {"$inc": {"session_version": 1}})

    async def record_login(self, username: str, now: datetime | None = None) -> None:
        """Remember when the user last logged in."""
        stamp = {"$set": {"last_login": now or utcnow()}}
        await self._coll.update_one({"username": username}, stamp)

    async def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        """The enabled user when the password is right, else None (hashing runs in a
        thread). An unknown user, or one without a password, is checked against a dummy
        hash: every answer takes one scrypt."""
        user = await self.get(username)
        stored = DUMMY_HASH if user is None else user.get("password_hash") or DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, password, stored)
        if not ok or user is None or stored is DUMMY_HASH or user.get("disabled"):
            return None
        return user


def _invite(token: str, now: datetime) -> dict[str, Any]:
    return {"token_hash": token_digest(token), "created": now,
            "expires": now + timedelta(hours=INVITE_HOURS)}  # fmt: skip


def user_role(user: dict[str, Any]) -> str:
    """The role of a stored user (viewer when it has none)."""
    role = user.get("role")
    return role if is_role(role) else "viewer"


def token_role(token: dict[str, Any], user: dict[str, Any]) -> str:
    """What a token may do: its own role, capped by its owner's current role."""
    return lowest(token.get("role"), user_role(user))


class TokenRepo:
    """API tokens: stored as digests, shown once at creation; each with a role, an optional
    expiry, and revocable."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.api_tokens

    async def create(
        self, username: str, label: str = "", role: str = ADMIN,
        expires: datetime | None = None, now: datetime | None = None,
    ) -> str:  # fmt: skip
        """A new token for ``username``; the plain token is returned and not stored."""
        if not is_role(role):
            raise ValueError(f"unknown role {role!r}")
        token = new_token()
        await self._coll.insert_one(
            {"token_hash": token_digest(token), "username": username, "label": label,
             "role": role, "created": now or utcnow(), "expires": expires, "last_used": None,
             "revoked": None}
        )  # fmt: skip
        return token

    async def lookup(self, token: str, now: datetime | None = None) -> dict[str, Any] | None:
        """The token's document (without its digest) when it is valid: known, not revoked,
        not expired; its ``last_used`` is updated. None otherwise."""
        now = now or utcnow()
        return await self._coll.find_one_and_update(
            {"token_hash": token_digest(token), "revoked": None,
             "$or": [{"expires": None}, {"expires": {"$gt": now}}]},
            {"$set": {"last_used": now}}, projection={"token_hash": 0},
        )  # fmt: skip

    async def list(self, username: str | None = None) -> list[dict[str, Any]]:
        """Tokens (without secrets), of one user or all, newest first."""
        query = {"username": username} if username else {}
        return await self._coll.find(query, {"token_hash": 0}).sort("created", -1).to_list()

    async def get(self, token_id: str) -> dict[str, Any] | None:
        """One token (without its secret) by its id, or None."""
        try:
            oid = ObjectId(token_id)
        except (InvalidId, TypeError):
            return None
        return await self._coll.find_one({"_id": oid}, {"token_hash": 0})

    async def revoke(self, token_id: str, now: datetime | None = None) -> bool:
        """Revoke a token (kept, listed as revoked); False when unknown or already revoked."""
        token = await self.get(token_id)
        if token is None:
            return False
        result = await self._coll.update_one(
            {"_id": token["_id"], "revoked": None}, {"$set": {"revoked": now or utcnow()}}
        )
        return result.modified_count == 1
