"""Create an API token for an operator; the token is printed once and stored as a digest.

python scripts/create_token.py USERNAME [--label TEXT] [--role viewer|operator|admin]
                               [--expires-days N] [--data-dir D | --mongodb-uri URI]

--role defaults to the user's own role and may not exceed it; without --expires-days the
token never expires.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from _common import ScriptError, add_database_options, run_on_database

from auth.roles import ROLES, allows
from models.migrations import migrate
from models.users import TokenRepo, UserRepo, user_role
from ocppj.timeutil import utcnow


def main(argv: list[str] | None = None) -> int:
    """Entry point; prints the token alone on stdout."""
    parser = argparse.ArgumentParser(description="create an API token")
    parser.add_argument("username")
    parser.add_argument("--label", default="")
    parser.add_argument("--role", choices=ROLES, help="at most the user's role (the default)")
    parser.add_argument("--expires-days", type=int, help="days until it expires (default: never)")
    add_database_options(parser)
    args = parser.parse_args(argv)

    async def job(db) -> list[str]:
        await migrate(db)
        user = await UserRepo(db).get(args.username)
        if user is None:
            raise ScriptError(f"no user named {args.username!r}")
        role = args.role or user_role(user)
        if not allows(user_role(user), role):
            raise ScriptError(f"{args.username!r} is {user_role(user)}: a token cannot be {role}")
        if args.expires_days is not None and args.expires_days < 1:
            raise ScriptError("--expires-days must be at least 1")
        now = utcnow()
        expires = None if args.expires_days is None else now + timedelta(days=args.expires_days)
        return [await TokenRepo(db).create(args.username, args.label, role, expires, now)]

    return run_on_database(args, job)


if __name__ == "__main__":
    sys.exit(main())
