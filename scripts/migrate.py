"""Bring the database up to date: collections, indexes, time series, schema version.

    python scripts/migrate.py [--data-dir D | --mongodb-uri URI] [--reset]

``--reset`` drops and re-creates every index and re-applies all migrations
without deleting data (for when they have become inconsistent). Finds a
running server's embedded database through D/mongodb.uri, or starts one on D.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from _common import DatabaseLocation, add_database_options

from models.db import DatabaseUnavailable, connect
from models.embedded import EmbeddedDatabaseError
from models.migrations import migrate


async def run(uri: str, reset: bool) -> list[str]:
    """Connect and migrate; return what was done."""
    client, db = await connect(uri)
    try:
        return await migrate(db, reset=reset)
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 on success, 2 when the database cannot be reached."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--reset", action="store_true", help="drop indexes and re-apply all")
    args = parser.parse_args(argv)
    try:
        location = DatabaseLocation(args.data_dir, args.mongodb_uri)
    except EmbeddedDatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        for line in asyncio.run(run(location.uri, args.reset)):
            print(line)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        location.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
