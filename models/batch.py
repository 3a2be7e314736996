"""Batched writes for high-rate data (meter values, message log, charger state).

Documents are buffered in memory and written every ``interval`` seconds (or
sooner when a batch fills), and on shutdown. A failed write keeps its
documents and is retried on the next tick, so a database hiccup loses nothing.
When the database falls behind, ``backpressure()`` makes the producer wait for
a flush instead of letting the buffer grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from bson.errors import InvalidDocument
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

log = logging.getLogger("csms.batch")

DUPLICATE_KEY = 11000


class _Flusher:
    """The shared loop: wait for the interval or a full batch, then write."""

    def __init__(self, name: str, interval: float, max_batch: int):
        self.name = name
        self.interval = interval
        self.max_batch = max_batch
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._oldest: float | None = None
        self.written = 0
        self.last_lag = 0.0
        self.max_lag = 0.0
        self.failures = 0

    def _note_added(self, size: int) -> None:
        if self._oldest is None:
            self._oldest = time.monotonic()
        if size >= self.max_batch:
            self._wake.set()

    def start(self) -> None:
        """Start the background flush loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns normally when
            # the cancel of ``stop`` meets a wake-up, and the loop would never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # keep the loop alive whatever happens
                log.exception("%s: flush failed", self.name)

    async def flush(self) -> None:
        """Write everything buffered so far (waits for a flush already under way)."""
        async with self._lock:
            if self._pending_count() == 0:
                return
            oldest, self._oldest = self._oldest, None
            try:
                count = await self._write()
            except PyMongoError as exc:
                self.failures += 1
                self._oldest = oldest
                log.error("%s: write failed, will retry: %s", self.name, exc)
                return
            self.written += count
            if oldest is not None:
                self.last_lag = time.monotonic() - oldest
                self.max_lag = max(self.max_lag, self.last_lag)

    async def stop(self) -> None:
        """Stop the loop and write what is left."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()

    @property
    def pending(self) -> int:
        """Documents buffered and not yet written (the metrics' back-pressure gauge)."""
        return self._pending_count()

    def _pending_count(self) -> int:
        raise NotImplementedError

    async def _write(self) -> int:
        raise NotImplementedError


class BatchInserter(_Flusher):
    """Buffers documents and writes them with ``insert_many(ordered=False)``."""

    def __init__(
        self,
        collection: AsyncCollection,
        *,
        interval: float = 0.1,
        max_batch: int = 1000,
        high_water: int = 20_000,
    ):
        super().__init__(f"insert:{collection.name}", interval, max_batch)
        self._coll = collection
        self._buffer: list[dict[str, Any]] = []
        self.high_water = high_water
        self.rejected = 0

    def add(self, doc: dict[str, Any]) -> None:
        """Queue one document."""
        self._buffer.append(doc)
        self._note_added(len(self._buffer))

    async def backpressure(self) -> None:
        """Wait for a flush when more than ``high_water`` documents are waiting."""
        if len(self._buffer) >= self.high_water:
            await self.flush()

    def extend(self, docs: list[dict[str, Any]]) -> None:
        """Queue several documents."""
        for doc in docs:
            self.add(doc)

    def _pending_count(self) -> int:
        return len(self._buffer)

    async def _insert_each(self, chunk: list[dict[str, Any]]) -> None:
        for doc in chunk:
            try:
                await self._coll.insert_one(doc)
            except (InvalidDocument, OverflowError) as exc:
                self.rejected += 1
                log.error("%s: dropped a document that cannot be stored: %s", self.name, exc)
            except DuplicateKeyError:
                pass

    async def _write(self) -> int:
        batch, self._buffer = self._buffer, []
        written = 0
        try:
            for start in range(0, len(batch), self.max_batch):
                chunk = batch[start : start + self.max_batch]
                try:
                    await self._coll.insert_many(chunk, ordered=False)
                except (InvalidDocument, OverflowError):
                    # A document that cannot be encoded must not hold back the others
                    # forever: write them one by one and drop (and log) what fails.
                    await self._insert_each(chunk)
                except BulkWriteError as exc:
                    # A retried chunk may contain documents already written.
                    other = [e for e in exc.details["writeErrors"] if e["code"] != DUPLICATE_KEY]
                    if other:
                        raise
                written += len(chunk)
        except PyMongoError:
            self._buffer[:0] = batch[written:]
            raise
        return written


def upsert_args(
    doc_id: Any, fields: dict[str, Any], defaults: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The (filter, update, upsert) of ``$set: fields`` on ``doc_id``; with ``defaults``
    (a document that may not exist yet) an upsert that inserts them too, except where
    ``fields`` set the same field or a field inside it (``connectors.1``)."""
    if defaults is None:
        return {"_id": doc_id}, {"$set": fields}, False
    taken = {"_id"} | {name.split(".", 1)[0] for name in fields}
    on_insert = {key: value for key, value in defaults.items() if key not in taken}
    return {"_id": doc_id}, {"$set": fields, "$setOnInsert": on_insert}, True


class StateUpdater(_Flusher):
    """Coalesces ``$set`` updates per document id and writes them with ``bulk_write``.

    Only the latest value of each field matters (last heartbeat, last meter
    values, connector status), so many updates of one charger become one. A
    document may also be queued before it exists (``create``): its write is then an
    upsert, so whatever else created it meanwhile keeps its own fields.
    """

    def __init__(
        self, collection: AsyncCollection, *, interval: float = 0.1, max_batch: int = 1000
    ):
        super().__init__(f"update:{collection.name}", interval, max_batch)
        self._coll = collection
        self._pending: dict[Any, dict[str, Any]] = {}
        # doc id -> the fields it gets when the write inserts it (``create``)
        self._new: dict[Any, dict[str, Any]] = {}
        # ids a flush is writing right now -> whether the write creates the document
        self._writing: dict[Any, bool] = {}

    def set(self, doc_id: Any, fields: dict[str, Any]) -> None:
        """Queue ``$set: fields`` on document ``doc_id``."""
        current = self._pending.get(doc_id)
        if current is None:
            self._pending[doc_id] = dict(fields)
        else:
            current.update(fields)
        self._note_added(len(self._pending))

    def create(self, doc_id: Any, defaults: dict[str, Any], fields: dict[str, Any]) -> None:
        """Queue a document that may not exist yet: the write sets ``fields`` and, when
        it inserts the document, ``defaults`` too (the first ones queued count)."""
        self._new.setdefault(doc_id, dict(defaults))
        self.set(doc_id, fields)

    def is_new(self, doc_id: Any) -> bool:
        """Whether ``doc_id`` was queued by ``create`` and is not written yet."""
        return doc_id in self._new or self._writing.get(doc_id, False)

    def take(self, doc_id: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The fields queued for ``doc_id`` and its ``create`` defaults (None when it was
        not created here), out of the queue: the caller writes them with an update of
        its own (``upsert_args``: one write instead of two)."""
        fields = self._pending.pop(doc_id, None) or {}
        defaults = self._new.pop(doc_id, None)
        if not self._pending:
            self._oldest = None
        return fields, defaults

    async def claim(self, doc_id: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """``take``, after the flush that may be creating ``doc_id`` right now has ended:
        an update that follows must find the document."""
        if self._writing.get(doc_id):
            async with self._lock:
                pass
        return self.take(doc_id)

    def put_back(
        self, doc_id: Any, fields: dict[str, Any], defaults: dict[str, Any] | None
    ) -> None:
        """Queue again what ``take`` gave and could not be written (newer values win)."""
        if defaults is not None:
            self._new.setdefault(doc_id, defaults)
        self.set(doc_id, {**fields, **self._pending.get(doc_id, {})})

    async def write_now(self, doc_id: Any) -> None:
        """Write what is queued for ``doc_id`` at once, after any flush under way: a
        conditional update or a read that must see it comes next. Nothing queued or
        being written for it: nothing to wait for (the close of every socket asks)."""
        if doc_id not in self._pending and doc_id not in self._writing:
            return
        async with self._lock:
            fields, defaults = self.take(doc_id)
            if not fields and defaults is None:
                return
            try:
                await self._coll.update_one(*upsert_args(doc_id, fields, defaults))
            except PyMongoError:
                self.put_back(doc_id, fields, defaults)
                raise
            self.written += 1

    def _pending_count(self) -> int:
        return len(self._pending)

    async def _write(self) -> int:
        pending, self._pending = self._pending, {}
        new, self._new = self._new, {}
        ops = [UpdateOne(*upsert_args(key, fields, new.get(key)))
               for key, fields in pending.items()]  # fmt: skip
        self._writing = {key: key in new for key in pending}
        try:
            await self._coll.bulk_write(ops, ordered=False)
        except PyMongoError:
            for key, fields in pending.items():  # newer values queued meanwhile win
                self.put_back(key, fields, new.get(key))
            raise
        finally:
            self._writing = {}
        return len(ops)


class BatchedReader:
    """Reads of single documents by ``_id``, coalesced: the ids asked for while a loop
    pass runs (or while ``concurrency`` reads are already under way) are read with one
    ``find({"_id": {"$in": ids}})``.

    A reconnect storm asks for thousands of charger documents at once; on the embedded
    database one query for 100 ids costs about a quarter of 100 single reads. Alone, a
    read costs what ``find_one`` costs. A read asked for after a write has finished is
    sent after it, so it sees it; a database error reaches every reader of that batch.
    """

    def __init__(self, collection: AsyncCollection, *, max_batch: int = 500, concurrency: int = 4):
        self._coll = collection
        self.max_batch = max_batch
        self.concurrency = concurrency
        self._waiting: dict[Any, list[asyncio.Future]] = {}
        self._scheduled = False
        self._running: set[asyncio.Task] = set()
        self.queries = 0  # finds sent (tests and the metrics read it)

    async def get(self, doc_id: Any) -> dict[str, Any] | None:
        """The document ``doc_id``, or None."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.setdefault(doc_id, []).append(future)
        self._schedule(loop)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._waiting and not self._scheduled and len(self._running) < self.concurrency:
            self._scheduled = True
            loop.call_soon(self._start, loop)  # after the other reads of this pass

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        ids = list(self._waiting)[: self.max_batch]
        waiting = {doc_id: self._waiting.pop(doc_id) for doc_id in ids}
        task = loop.create_task(self._read(waiting))
        self._running.add(task)
        task.add_done_callback(self._finished)
        self._schedule(loop)  # more than max_batch waiting: the next batch too

    def _finished(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        self._schedule(task.get_loop())  # ids that waited for a free read

    async def _read(self, waiting: dict[Any, list[asyncio.Future]]) -> None:
        try:
            self.queries += 1
            cursor = self._coll.find({"_id": {"$in": list(waiting)}})
            found = {doc["_id"]: doc async for doc in cursor}
        except asyncio.CancelledError:
            for futures in waiting.values():
                for future in futures:
                    future.cancel()
            raise
        except Exception as exc:
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for doc_id, futures in waiting.items():
            doc = found.get(doc_id)
            for n, future in enumerate(futures):
                if not future.done():  # a reader cancelled meanwhile
                    future.set_result(doc if n == 0 or doc is None else dict(doc))
