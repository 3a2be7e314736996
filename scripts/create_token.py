"""Create an API token for an operator; the token is printed once and stored as a digest.

python scripts/create_token.py USERNAME [--label TEXT] [--data-dir D | --mongodb-uri URI]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from _common import DatabaseLocation, add_database_options

from models.db import DatabaseUnavailable, connect
from models.embedded import EmbeddedDatabaseError
from models.migrations import migrate
from models.users import TokenRepo, UserRepo


async def run(uri: str, username: str, label: str) -> str:
    """The new token; LookupError when the user does not exist."""
    client, db = await connect(uri)
    try:
        await migrate(db)
        if await UserRepo(db).get(username) is None:
            raise LookupError(f"no user named {username!r}")
        return await TokenRepo(db).create(username, label)
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point; prints the token alone on stdout."""
    parser = argparse.ArgumentParser(description="create an API token")
    parser.add_argument("username")
    parser.add_argument("--label", default="")
    add_database_options(parser)
    args = parser.parse_args(argv)
    try:
        location = DatabaseLocation(args.data_dir, args.mongodb_uri)
    except EmbeddedDatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(run(location.uri, args.username, args.label)))
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        location.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
