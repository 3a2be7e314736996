"""Create an operator, or set a new password for one.

python scripts/create_user.py USERNAME [--password PW | reads CSMS_USER_PASSWORD or asks]
                              [--role viewer|operator|admin] [--reset-password]
                              [--data-dir D | --mongodb-uri URI]

The password is --password, else the CSMS_USER_PASSWORD environment variable, else
asked on the terminal; when stdin is not a terminal one of the first two is required.
--role defaults to admin for the first user and to operator after it; with
--reset-password a given --role is set too.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from _common import EXIT_REFUSED, ScriptError, add_database_options, fail, run_on_database

from auth.passwords import MIN_PASSWORD
from auth.roles import ADMIN, OPERATOR, ROLES
from models.migrations import migrate
from models.users import UserExists, UserRepo


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 on success, 1 on a refused request, 2 when there is no database or it
    is unreachable."""
    parser = argparse.ArgumentParser(description="create an operator account")
    parser.add_argument("username")
    parser.add_argument(
        "--password", default=os.environ.get("CSMS_USER_PASSWORD"),
        help="else $CSMS_USER_PASSWORD, else asked (required when stdin is not a terminal)",
    )  # fmt: skip
    parser.add_argument("--role", choices=ROLES, help="admin for the first user, else operator")
    parser.add_argument("--reset-password", action="store_true")
    add_database_options(parser)
    args = parser.parse_args(argv)
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            return fail(
                "no password: stdin is not a terminal, so give --password or set "
                "CSMS_USER_PASSWORD",
                EXIT_REFUSED,
            )
        password = getpass.getpass("Password: ")
    if len(password) < MIN_PASSWORD:
        return fail(f"the password needs at least {MIN_PASSWORD} characters", EXIT_REFUSED)

    async def job(db) -> list[str]:
        await migrate(db)
        users = UserRepo(db)
        if args.reset_password:
            if not await users.set_password(args.username, password):
                raise ScriptError(f"no user named {args.username!r}")
            if args.role is not None:
                await users.set_role(args.username, args.role)
            return [f"password of {args.username!r} changed"]
        role = args.role or (ADMIN if await users.count() == 0 else OPERATOR)
        try:
            await users.create(args.username, password, role)
        except UserExists:
            raise ScriptError(f"user {args.username!r} exists (use --reset-password)") from None
        return [f"user {args.username!r} created ({role})"]

    return run_on_database(args, job)


if __name__ == "__main__":
    sys.exit(main())
