"""Log files under ``<data_dir>/logs``, written by background threads, mode 0600.

``FrameLog`` writes every OCPP frame in and out to the rotating file
``ocpp-frames.log`` (the sink's to its own ``sink-frames.log``), one JSON object
a line: the event loop only puts a tuple on a queue, the thread builds the line
and does the file I/O. Everything else goes through ``logging`` to ``csms.log``
and stderr, also via a queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import os
import queue
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

# Log files may hold ids, IPs and charger data: only the server's user reads them.
FILE_MODE = 0o600


def open_private(path: Path, binary: bool = False):
    """``path`` opened for appending (UTF-8 text, or bytes), created with mode 0600 and
    made 0600 if it existed with a wider mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "ab") if binary else os.fdopen(fd, "a", encoding="utf-8")


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file whose files are created with mode 0600."""

    def _open(self):
        return open_private(Path(self.baseFilename))


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
    app_file = PrivateRotatingFileHandler(
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


def frame_line(created: float, charger: str, direction: str, text: str) -> str:
    """One frame as a line of JSON: ``{"ts", "charger", "dir", "frame"}``.

    The frame is a JSON string, so a newline or anything else a peer puts in a frame is
    escaped and one line is always one frame (a forged line cannot be smuggled in).
    """
    return frame_bytes(created, charger, direction, text).decode()


def frame_bytes(created: float, charger: str, direction: str, text: str) -> bytes:
    """``frame_line`` as UTF-8 bytes (what the writer thread appends: no decode and
    encode again per frame)."""
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    record = {"ts": stamp.replace("+00:00", "Z"), "charger": charger, "dir": direction,
              "frame": text}  # fmt: skip
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:  # a lone surrogate: escaped by the standard library
        return (json.dumps(record) + "\n").encode()


class FrameLog:
    """Every OCPP frame in and out, one JSON line each (``frame_line``), in a rotating
    file.

    The event loop appends ``(time, charger, direction, text)`` to a list; every
    ``interval`` seconds the list is handed to a writer thread in one piece, so
    there is no per-frame wake-up or formatting on the loop. The thread formats
    the lines, writes them in one call and rotates the file by size
    (``ocpp-frames.log.1`` ... ``.N``).
    """

    def __init__(
        self,
        path: str | Path,
        max_bytes: int = 50 * 1024 * 1024,
        backups: int = 10,
        interval: float = 0.1,
    ):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.interval = interval
        self._pending: list[tuple[float, str, str, str]] = []
        self._handoff_scheduled = False
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._file = open_private(self.path, binary=True)
        self._size = self._file.tell()
        self._thread = threading.Thread(target=self._run, name="frame-log", daemon=True)
        self._thread.start()

    def write(self, charger: str, direction: str, text: str) -> None:
        """Queue one frame; called on the event loop."""
        self._pending.append((time.time(), charger, direction, text))
        if not self._handoff_scheduled:
            self._handoff_scheduled = True
            asyncio.get_running_loop().call_later(self.interval, self._handoff)

    def _handoff(self) -> None:
        self._handoff_scheduled = False
        batch, self._pending = self._pending, []
        if batch:
            self._queue.put(batch)

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            chunk = b"".join([frame_bytes(*entry) for entry in batch])
            self._file.write(chunk)
            self._file.flush()
            self._size += len(chunk)
            if self._size >= self.max_bytes:
                self._rotate()

    def _rotate(self) -> None:
        self._file.close()
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        if self.backups > 0:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._file = open_private(self.path, binary=True)
        self._size = 0

    def close(self) -> None:
        """Write what is queued and close the file (call on the loop's thread)."""
        self._handoff()
        self._queue.put(None)
        self._thread.join(10)
        self._file.close()
