"""Connecting to MongoDB: one AsyncMongoClient, a clear error when it is not there."""

from __future__ import annotations

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError, PyMongoError

DEFAULT_DB_NAME = "csms"


class DatabaseUnavailable(Exception):
    """MongoDB could not be reached or the URI is unusable (one line for the operator)."""


def redact(uri: str) -> str:
    """The URI without a password, for messages."""
    scheme, sep, rest = uri.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}"
    return uri


async def connect(
    uri: str, db_name: str | None = None, timeout_ms: int = 5000
) -> tuple[AsyncMongoClient, AsyncDatabase]:
    """Open a client, check the server answers, and return (client, database).

    The database is ``db_name``, else the one named in the URI, else ``csms``.
    """
    try:
        client: AsyncMongoClient = AsyncMongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
        )
    except (ConfigurationError, ValueError) as exc:
        raise DatabaseUnavailable(f"invalid MongoDB URI {redact(uri)}: {exc}") from None
    try:
        await client.admin.command("ping")
    except PyMongoError as exc:
        await client.close()
        reason = str(exc).split(" (configured timeouts")[0].split(", Timeout:")[0]
        raise DatabaseUnavailable(f"cannot reach MongoDB at {redact(uri)}: {reason}") from None
    db = client[db_name] if db_name else client.get_default_database(default=DEFAULT_DB_NAME)
    return client, db
