"""The ``users`` and ``api_tokens`` collections: operators and their API tokens."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from auth.passwords import DUMMY_HASH, hash_password, new_token, token_digest, verify_password
from ocppj.timeutil import utcnow


class UserExists(Exception):
    """A user with that name already exists."""


class UserRepo:
    """Operators who may log in."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.users

    async def count(self) -> int:
        """How many users exist."""
        return await self._coll.count_documents({})

    async def get(self, username: str) -> dict[str, Any] | None:
        """The user, or None."""
        return await self._coll.find_one({"username": username})

    async def create(self, username: str, password: str, is_admin: bool = True) -> dict:
        """Create a user; raise UserExists when the name is taken."""
        doc = {
            "username": username,
            "password_hash": await asyncio.to_thread(hash_password, password),
            "is_admin": is_admin,
            "session_version": 0,
            "created": utcnow(),
        }
        try:
            await self._coll.insert_one(doc)
        except DuplicateKeyError:
            raise UserExists(username) from None
        return doc

    async def set_password(self, username: str, password: str) -> bool:
        """Change a password and end every login session of the user; False when there is
        no such user."""
        hashed = await asyncio.to_thread(hash_password, password)
        result = await self._coll.update_one(
            {"username": username},
            {"$set": {"password_hash": hashed}, "$inc": {"session_version": 1}},
        )
        return result.matched_count == 1

    async def end_sessions(self, username: str) -> None:
        """Invalidate every login cookie of the user (they carry the old session version)."""
        await self._coll.update_one({"username": username}, {"$inc": {"session_version": 1}})

    async def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        """The user when the password is right, else None (hashing runs in a thread).

        An unknown user is checked against a dummy hash: both answers take one scrypt."""
        user = await self.get(username)
        stored = DUMMY_HASH if user is None else user["password_hash"]
        ok = await asyncio.to_thread(verify_password, password, stored)
        return user if ok and user is not None else None


class TokenRepo:
    """API tokens: stored as digests, shown once at creation."""

    def __init__(self, db: AsyncDatabase):
        self._coll = db.api_tokens

    async def create(self, username: str, label: str = "") -> str:
        """A new token for ``username``; the plain token is returned and not stored."""
        token = new_token()
        await self._coll.insert_one(
            {"token_hash": token_digest(token), "username": username, "label": label,
             "created": utcnow(), "last_used": None}
        )  # fmt: skip
        return token

    async def lookup(self, token: str, now: datetime | None = None) -> str | None:
        """The username a token belongs to, or None."""
        doc = await self._coll.find_one_and_update(
            {"token_hash": token_digest(token)}, {"$set": {"last_used": now or utcnow()}}
        )
        return None if doc is None else doc["username"]

    async def list(self, username: str | None = None) -> list[dict[str, Any]]:
        """Tokens (without secrets), of one user or all."""
        query = {"username": username} if username else {}
        return await self._coll.find(query, {"token_hash": 0}).to_list()
