"""Run the embedded database on its own, for several ``server.py`` on one machine.

    python scripts/database.py --data-dir D [--port P] [--host H] [--standalone]

Starts SecantusDB with its data in D/db as a one-node replica set (change streams,
which several instances need; ``--standalone`` for one instance only), prints its
URI (with the generated password; also kept in D/mongodb.uri, mode 0600) and runs
until SIGTERM or SIGINT, then stops it cleanly. Every instance is then started with
``server.py --mongodb-uri URI --instance-id NAME``. The URI turns retryable writes
off: on SecantusDB each retryable write leaves a record that is pruned in time
growing with their number (see README, "Several instances").
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from _common import ROOT  # noqa: F401  (puts the project on sys.path)

from models.embedded import EmbeddedDatabase, EmbeddedDatabaseError

EXIT_STARTUP = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options of this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="where the database keeps its data")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--standalone", action="store_true",
                        help="no replica set (no change streams: one instance only)")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 after a clean stop, 2 when the database does not start."""
    args = parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    database = EmbeddedDatabase(
        args.data_dir, args.host, port=args.port or None, replica_set=not args.standalone
    )
    try:
        uri = database.start()
    except EmbeddedDatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    print(uri, flush=True)
    try:
        while not stop.wait(1.0):
            if database.process is None or database.process.poll() is not None:
                print("error: the database exited", file=sys.stderr)
                return 1
    finally:
        database.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
