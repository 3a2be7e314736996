"""Create an operator, or set a new password for one.

python scripts/create_user.py USERNAME [--password PW | reads CSMS_USER_PASSWORD or asks]
                              [--reset-password] [--data-dir D | --mongodb-uri URI]
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from _common import DatabaseLocation, add_database_options

from models.db import DatabaseUnavailable, connect
from models.embedded import EmbeddedDatabaseError
from models.migrations import migrate
from models.users import UserExists, UserRepo

MIN_PASSWORD = 8


async def run(uri: str, username: str, password: str, reset: bool) -> str:
    """Create the user (or reset the password); return the line to print."""
    client, db = await connect(uri)
    try:
        await migrate(db)
        users = UserRepo(db)
        if reset:
            if not await users.set_password(username, password):
                raise LookupError(f"no user named {username!r}")
            return f"password of {username!r} changed"
        await users.create(username, password)
        return f"user {username!r} created"
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 on success, 1 on a refused request, 2 when the database is unreachable."""
    parser = argparse.ArgumentParser(description="create an operator account")
    parser.add_argument("username")
    parser.add_argument("--password", default=os.environ.get("CSMS_USER_PASSWORD"))
    parser.add_argument("--reset-password", action="store_true")
    add_database_options(parser)
    args = parser.parse_args(argv)
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            print("error: give --password or CSMS_USER_PASSWORD", file=sys.stderr)
            return 1
        password = getpass.getpass("Password: ")
    if len(password) < MIN_PASSWORD:
        print(f"error: the password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 1
    try:
        location = DatabaseLocation(args.data_dir, args.mongodb_uri)
    except EmbeddedDatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(run(location.uri, args.username, password, args.reset_password)))
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except UserExists:
        print(f"error: user {args.username!r} exists (use --reset-password)", file=sys.stderr)
        return 1
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        location.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
