"""Bring the database up to date: collections, indexes, time series, schema version.

    python scripts/migrate.py [--data-dir D | --mongodb-uri URI] [--reset]

``--reset`` drops and re-creates every index and re-applies all migrations
without deleting data (for when they have become inconsistent). Finds a
running server's embedded database through D/mongodb.uri, or starts the
embedded database a server left in D/db; with neither it creates nothing and
exits 2.
"""

from __future__ import annotations

import argparse
import sys

from _common import add_database_options, run_on_database

from models.migrations import migrate


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 on success, 2 when there is no database or it cannot be reached."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--reset", action="store_true", help="drop indexes and re-apply all")
    args = parser.parse_args(argv)
    return run_on_database(args, lambda db: migrate(db, reset=args.reset))


if __name__ == "__main__":
    sys.exit(main())
