"""Create an API token for an operator; the token is printed once and stored as a digest.

python scripts/create_token.py USERNAME [--label TEXT] [--data-dir D | --mongodb-uri URI]
"""

from __future__ import annotations

import argparse
import sys

from _common import ScriptError, add_database_options, run_on_database

from models.migrations import migrate
from models.users import TokenRepo, UserRepo


def main(argv: list[str] | None = None) -> int:
    """Entry point; prints the token alone on stdout."""
    parser = argparse.ArgumentParser(description="create an API token")
    parser.add_argument("username")
    parser.add_argument("--label", default="")
    add_database_options(parser)
    args = parser.parse_args(argv)

    async def job(db) -> list[str]:
        await migrate(db)
        if await UserRepo(db).get(args.username) is None:
            raise ScriptError(f"no user named {args.username!r}")
        return [await TokenRepo(db).create(args.username, args.label)]

    return run_on_database(args, job)


if __name__ == "__main__":
    sys.exit(main())
