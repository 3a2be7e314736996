"""What maintenance scripts share: finding the database of a running or stopped CSMS,
and running one job on it with the house's exit codes.

A data dir has a database when a server started there once (it keeps its
embedded database in ``<data dir>/db``) or when a running server published
its URI in ``<data dir>/mongodb.uri``. Scripts never create a database: a
wrong or mistyped --data-dir is an error, not a new empty database.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # scripts run as `python scripts/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

from pymongo.asynchronous.database import AsyncDatabase  # noqa: E402

from models.db import DatabaseUnavailable, connect  # noqa: E402
from models.embedded import EmbeddedDatabase, EmbeddedDatabaseError, read_uri  # noqa: E402

EXIT_REFUSED = 1
EXIT_NO_DATABASE = 2
STORAGE_DIR = "db"  # where EmbeddedDatabase keeps its data inside the data dir


class ScriptError(Exception):
    """The request was refused (bad input, conflict): one line, exit code 1."""


class NoDatabase(Exception):
    """The data dir holds no database and no running server published one: exit code 2."""


def add_database_options(parser) -> None:
    """--data-dir and --mongodb-uri, defaulting to CSMS_DATA_DIR and MONGODB_URI."""
    parser.add_argument("--data-dir", default=os.environ.get("CSMS_DATA_DIR", "./data"))
    parser.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_URI") or None)


class DatabaseLocation:
    """The URI to use: given, published by a running server, or a temporary embedded server
    started on the data dir's existing database (stopped by ``close``).

    Raises NoDatabase, before anything is written, when the data dir has neither.
    """

    def __init__(self, data_dir: str, uri: str | None):
        self.embedded: EmbeddedDatabase | None = None
        self.uri = uri or read_uri(data_dir)
        if self.uri is None:
            if not (Path(data_dir) / STORAGE_DIR).is_dir():
                raise NoDatabase(
                    f"no database at {os.path.abspath(data_dir)}: start the server once with "
                    "this --data-dir, or pass --mongodb-uri"
                )
            self.embedded = EmbeddedDatabase(data_dir, write_uri_file=False)
            self.uri = self.embedded.start()

    def close(self) -> None:
        """Stop the temporary embedded server, if one was started."""
        if self.embedded is not None:
            self.embedded.stop()


def run_on_database(args, job: Callable[[AsyncDatabase], Awaitable[list[str]]]) -> int:
    """Run ``job`` on the database that ``args`` (--data-dir/--mongodb-uri) points at and
    print the lines it returns. Exit code 0, 1 (ScriptError) or 2 (no database)."""
    try:
        location = DatabaseLocation(args.data_dir, args.mongodb_uri)
    except (NoDatabase, EmbeddedDatabaseError) as exc:
        return fail(exc, EXIT_NO_DATABASE)

    async def session() -> list[str]:
        client, db = await connect(location.uri)
        try:
            return await job(db)
        finally:
            await client.close()

    try:
        for line in asyncio.run(session()):
            print(line)
    except DatabaseUnavailable as exc:
        return fail(exc, EXIT_NO_DATABASE)
    except ScriptError as exc:
        return fail(exc, EXIT_REFUSED)
    finally:
        location.close()
    return 0


def fail(message: object, code: int) -> int:
    """Print one ``error:`` line on stderr and return ``code``."""
    print(f"error: {message}", file=sys.stderr)
    return code
