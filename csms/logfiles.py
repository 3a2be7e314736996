"""Log files under ``<data_dir>/logs``, written by a background thread.

``ocpp.frames`` gets every OCPP frame in and out (rotating file
``ocpp-frames.log``); everything else goes to ``csms.log`` and stderr. The
event loop only enqueues records; formatting and file I/O happen in the
listener thread.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
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
    frames_file = logging.handlers.RotatingFileHandler(
        log_dir / "ocpp-frames.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    frames_file.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    frames_file.addFilter(lambda record: record.name == "ocpp.frames")
    app_file = logging.handlers.RotatingFileHandler(
        log_dir / "csms.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    app_file.setFormatter(fmt)
    app_file.addFilter(lambda record: record.name != "ocpp.frames")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(fmt)
    stderr.setLevel(logging.WARNING)
    stderr.addFilter(lambda record: record.name != "ocpp.frames")

    records: queue.SimpleQueue = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(
        records, frames_file, app_file, stderr, respect_handler_level=True
    )
    root = logging.getLogger()
    root.handlers[:] = [_EnqueueOnly(records)]
    root.setLevel(level)
    listener.start()
    return listener
