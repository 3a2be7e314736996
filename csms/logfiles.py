"""Log files under ``<data_dir>/logs``, written by background threads.

``FrameLog`` writes every OCPP frame in and out to the rotating file
``ocpp-frames.log``: the event loop only puts a tuple on a queue, the thread
builds the line and does the file I/O. Everything else goes through
``logging`` to ``csms.log`` and stderr, also via a queue.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
import threading
import time
from pathlib import Path


class _EnqueueOnly(logging.handlers.QueueHandler):
    """Enqueue the record as it is; the listener formats it (off the event loop).

    Safe because our frame log arguments are immutable strings.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def start_logging(
    log_dir: str | Path, level: int = logging.INFO, max_bytes: int = 50 * 1024 * 1024, backups=10
) -> logging.handlers.QueueListener:
    """Route logging through a queue to rotating files; return the listener to stop later."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    app_file = logging.handlers.RotatingFileHandler(
        log_dir / "csms.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    app_file.setFormatter(fmt)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(fmt)
    stderr.setLevel(logging.WARNING)

    records: queue.SimpleQueue = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, app_file, stderr, respect_handler_level=True)
    root = logging.getLogger()
    root.handlers[:] = [_EnqueueOnly(records)]
    root.setLevel(level)
    listener.start()
    return listener


class FrameLog:
    """Every OCPP frame in and out, one line each, in a rotating file written by a thread."""

    def __init__(self, path: str | Path, max_bytes: int = 50 * 1024 * 1024, backups: int = 10):
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="frame-log", daemon=True)
        self._thread.start()

    def write(self, charger: str, direction: str, text: str) -> None:
        """Queue one frame (cheap: no formatting on the caller's thread)."""
        self._queue.put((time.time(), charger, direction, text))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            created, charger, direction, text = item
            record = logging.LogRecord(
                "ocpp.frames", logging.INFO, __file__, 0, "%s %s %s", (charger, direction, text),
                None,
            )  # fmt: skip
            record.created = created
            record.msecs = (created - int(created)) * 1000
            self._handler.handle(record)

    def close(self) -> None:
        """Write what is queued and close the file."""
        self._queue.put(None)
        self._thread.join(10)
        self._handler.close()
