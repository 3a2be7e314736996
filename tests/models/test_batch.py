"""Batched writers against the real database."""

from __future__ import annotations

import asyncio

import pytest

from models.batch import BatchedReader, BatchInserter, StateUpdater


@pytest.mark.gen_test
async def test_inserter_writes_in_batches_and_tolerates_resent_documents(db):
    writer = BatchInserter(db.things, interval=10, max_batch=3)
    for n in range(7):
        writer.add({"_id": n})
    writer.add({"_id": 2})  # already in this batch: a duplicate key, not a failure
    await writer.flush()
    assert await db.things.count_documents({}) == 7
    assert writer.written == 8
    assert writer.last_lag > 0


@pytest.mark.gen_test
async def test_updater_coalesces_per_document(db):
    await db.chargers.insert_one({"_id": "A"})
    updater = StateUpdater(db.chargers, interval=10)
    updater.set("A", {"x": 1, "y": 1})
    updater.set("A", {"x": 2})
    assert updater._pending_count() == 1
    await updater.flush()
    assert await db.chargers.find_one({"_id": "A"}) == {"_id": "A", "x": 2, "y": 1}


@pytest.mark.gen_test
async def test_updater_gives_one_documents_fields_away_or_writes_them_alone(db):
    await db.chargers.insert_many([{"_id": "A"}, {"_id": "B"}])
    updater = StateUpdater(db.chargers, interval=10)
    updater.set("A", {"x": 1})
    updater.set("B", {"x": 2})
    assert updater.take("A") == ({"x": 1}, None)  # the caller's own update writes them
    assert (updater.take("A"), updater.pending) == (({}, None), 1)
    updater.set("A", {"y": 3})
    await updater.write_now("A")
    assert await db.chargers.find_one({"_id": "A"}) == {"_id": "A", "y": 3}
    assert await db.chargers.find_one({"_id": "B"}) == {"_id": "B"}  # still queued
    assert (updater.pending, updater.written) == (1, 1)
    await updater.write_now("A")  # nothing queued: no write
    assert updater.written == 1


@pytest.mark.gen_test
async def test_a_created_document_is_upserted_and_keeps_what_exists(db):
    await db.chargers.insert_one({"_id": "B", "name": "set by hand", "connectors": {}})
    updater = StateUpdater(db.chargers, interval=10)
    defaults = {"_id": "x", "name": "default", "connectors": {}, "connected": False}
    updater.create("A", defaults, {"connected": True})
    updater.create("B", defaults, {"connected": True, "connectors.1": "Available"})
    updater.set("A", {"connectors.1": "Charging"})  # no conflict with the default
    assert updater.is_new("A") and updater.is_new("B")
    await updater.flush()
    assert await db.chargers.find_one({"_id": "A"}) == {
        "_id": "A", "name": "default", "connected": True, "connectors": {"1": "Charging"},
    }  # fmt: skip
    # B existed by then: only the queued fields are set, its own stay.
    assert await db.chargers.find_one({"_id": "B"}) == {
        "_id": "B", "name": "set by hand", "connectors": {"1": "Available"}, "connected": True,
    }  # fmt: skip
    assert not updater.is_new("A") and updater.pending == 0
    updater.create("C", defaults, {"connected": True})
    assert updater.take("C") == ({"connected": True}, defaults)
    assert not updater.is_new("C")
    updater.put_back("C", {"connected": True}, defaults)
    await updater.write_now("C")
    assert (await db.chargers.find_one({"_id": "C"}))["name"] == "default"


@pytest.mark.gen_test
async def test_a_created_document_being_written_is_claimed_after_the_write(db):
    updater = StateUpdater(db.chargers, interval=10)
    updater.create("A", {"name": "default"}, {"connected": True})
    flushing = asyncio.ensure_future(updater.flush())
    await asyncio.sleep(0)  # the flush has taken the queue and is writing
    assert updater.pending == 0 and updater.is_new("A")  # not written yet
    assert await updater.claim("A") == ({}, None)  # what record_boot does
    assert flushing.done()  # an update that follows finds the document
    assert await db.chargers.find_one({"_id": "A"}) == {
        "_id": "A", "name": "default", "connected": True,
    }  # fmt: skip
    assert not updater.is_new("A")


@pytest.mark.gen_test
async def test_a_failed_write_keeps_the_created_document_queued(db):
    await db.chargers.insert_one({"_id": "A", "n": "text"})
    updater = StateUpdater(db.chargers, interval=10)
    updater.create("B", {"name": "default"}, {"connected": True})
    updater.set("A", {"n.x": 1})  # cannot be applied to a string: the batch fails
    await updater.flush()
    assert updater.failures == 1
    assert updater.is_new("B") and updater.pending == 2
    updater.take("A")
    await updater.flush()
    assert await db.chargers.find_one({"_id": "B"}) == {
        "_id": "B", "name": "default", "connected": True,
    }  # fmt: skip


@pytest.mark.gen_test
async def test_write_now_waits_for_a_flush_under_way(db):
    await db.chargers.insert_one({"_id": "A"})
    updater = StateUpdater(db.chargers, interval=10)
    updater.set("A", {"x": 1})
    flushing = asyncio.ensure_future(updater.flush())
    await asyncio.sleep(0)  # the flush has taken the queue and is writing
    assert updater.pending == 0
    await updater.write_now("A")
    assert flushing.done()  # it waited for that write, so what follows sees it
    assert await db.chargers.find_one({"_id": "A"}) == {"_id": "A", "x": 1}


@pytest.mark.gen_test
async def test_stop_flushes_what_is_left(db):
    writer = BatchInserter(db.things, interval=60)
    writer.start()
    writer.add({"_id": "last"})
    await writer.stop()
    assert await db.things.find_one({"_id": "last"}) == {"_id": "last"}


@pytest.mark.gen_test
async def test_backpressure_waits_for_a_flush_above_high_water(db):
    writer = BatchInserter(db.things, interval=60, high_water=3)
    writer.add({"_id": 1})
    writer.add({"_id": 2})
    await writer.backpressure()
    assert await db.things.count_documents({}) == 0  # below the mark: nothing waits
    writer.add({"_id": 3})
    await writer.backpressure()
    assert await db.things.count_documents({}) == 3


@pytest.mark.gen_test
async def test_a_document_that_cannot_be_encoded_does_not_block_the_batch(db):
    writer = BatchInserter(db.things, interval=60)
    writer.add({"_id": 1})
    writer.add({"_id": 2, "value": 2**64})  # no BSON type holds this
    writer.add({"_id": 3})
    await writer.flush()
    assert sorted(d["_id"] for d in await db.things.find({}).to_list()) == [1, 3]
    assert writer.rejected == 1
    await writer.flush()  # nothing left behind to retry forever
    assert writer._pending_count() == 0


@pytest.mark.gen_test(timeout=30)
async def test_stop_ends_the_loop_when_a_full_batch_wakes_it_at_the_same_moment(db):
    # A full batch wakes the loop and stop cancels it in the same turn of the event loop:
    # on Python 3.11 asyncio.wait_for returns normally then, and a loop built on it never
    # ended (a server shutdown that hung).
    writer = BatchInserter(db.things, interval=60, max_batch=1)
    writer.start()
    await asyncio.sleep(0)  # the loop now waits for a wake-up
    writer.add({"_id": "full"})
    stopping = asyncio.ensure_future(writer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)  # (wait_for would cancel it)
    if stopping not in done:
        writer._task.cancel()  # a second cancel ends it; the test has failed already
        await stopping
    assert stopping in done, "stop() did not end the flush loop"
    assert await db.things.find_one({"_id": "full"}) == {"_id": "full"}


@pytest.mark.gen_test
async def test_reader_answers_concurrent_reads_with_one_query(db):
    await db.things.insert_many([{"_id": f"C{n}", "n": n} for n in range(5)])
    reader = BatchedReader(db.things)
    found = await asyncio.gather(*(reader.get(f"C{n}") for n in (0, 1, 4, 1)), reader.get("nope"))
    assert found == [{"_id": "C0", "n": 0}, {"_id": "C1", "n": 1}, {"_id": "C4", "n": 4},
                     {"_id": "C1", "n": 1}, None]  # fmt: skip
    assert found[1] is not found[3]  # two readers of one id never share a dict
    assert reader.queries == 1
    await db.things.update_one({"_id": "C0"}, {"$set": {"n": 10}})
    assert await reader.get("C0") == {"_id": "C0", "n": 10}  # a read after a write sees it
    assert reader.queries == 2


@pytest.mark.gen_test
async def test_reader_splits_batches_and_bounds_reads_in_flight(db):
    await db.things.insert_many([{"_id": n} for n in range(25)])
    reader = BatchedReader(db.things, max_batch=10, concurrency=1)
    found = await asyncio.gather(*(reader.get(n) for n in range(25)))
    assert found == [{"_id": n} for n in range(25)]
    assert reader.queries == 3  # 10 + 10 + 5, one after the other


@pytest.mark.gen_test
async def test_reader_gives_a_database_error_to_every_reader_of_the_batch(db):
    reader = BatchedReader(db.things)
    unencodable = object()  # the query cannot be sent: the batch fails as a whole
    results = await asyncio.gather(reader.get(unencodable), reader.get(2), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["InvalidDocument", "InvalidDocument"]
    assert await reader.get(2) is None  # the reader still works
