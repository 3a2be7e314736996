"""MessageLog: exchanges stored, read newest first, counted and pruned per charger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.batch import BatchInserter
from models.messages import IN, OUT, MessageLog, frames_of, new_exchange, set_reply

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def heartbeat(n: int, charger: str = "CP1") -> dict:
    """A Heartbeat exchange ``n`` seconds after NOW, answered 5 ms later."""
    exchange = new_exchange(charger, IN, f'[2,"h{n}","Heartbeat",{{}}]',
                            NOW + timedelta(seconds=n), "Heartbeat", f"h{n}")  # fmt: skip
    return set_reply(exchange, f'[3,"h{n}",{{}}]', NOW + timedelta(seconds=n, milliseconds=5))


def test_exchange_documents_and_their_frames():
    answered = heartbeat(1)
    assert answered == {
        "charger": "CP1", "ts": NOW + timedelta(seconds=1), "direction": "in",
        "action": "Heartbeat", "unique_id": "h1", "frame": '[2,"h1","Heartbeat",{}]',
        "reply": {"ts": NOW + timedelta(seconds=1, milliseconds=5), "frame": '[3,"h1",{}]'},
    }  # fmt: skip
    assert frames_of(answered) == [
        {"charger": "CP1", "ts": NOW + timedelta(seconds=1), "direction": "in",
         "action": "Heartbeat", "unique_id": "h1", "frame": '[2,"h1","Heartbeat",{}]'},
        {"charger": "CP1", "ts": NOW + timedelta(seconds=1, milliseconds=5), "direction": "out",
         "action": "Heartbeat", "unique_id": "h1", "frame": '[3,"h1",{}]'},
    ]  # fmt: skip
    unanswered = new_exchange("CP1", OUT, '[2,"r","Reset",{"type":"Soft"}]', NOW, "Reset", "r")
    assert unanswered["reply"] is None
    assert frames_of(unanswered) == [
        {"charger": "CP1", "ts": NOW, "direction": "out", "action": "Reset", "unique_id": "r",
         "frame": '[2,"r","Reset",{"type":"Soft"}]'}
    ]  # fmt: skip


@pytest.mark.gen_test
async def test_recent_count_and_prune_are_in_exchanges(db):
    log = MessageLog(db, BatchInserter(db.messages, interval=60), max_per_charger=3)
    for n in range(5):
        log.record(heartbeat(n))
    log.record(heartbeat(9, charger="OTHER"))
    newest = await log.recent("CP1", limit=2)  # flushes the writer first
    assert [doc["unique_id"] for doc in newest] == ["h4", "h3"]
    assert newest[0] == {"_id": newest[0]["_id"], **heartbeat(4)}
    assert await log.count("CP1") == 5
    assert await log.prune() == 2
    assert [doc["unique_id"] for doc in await log.recent("CP1")] == ["h4", "h3", "h2"]
    assert await log.count("OTHER") == 1
    assert await log.prune() == 0  # nothing logged since


@pytest.mark.gen_test
async def test_prune_checks_only_chargers_that_logged_a_tenth_of_the_bound(db):
    log = MessageLog(db, BatchInserter(db.messages, interval=60), max_per_charger=20)
    assert log.check_every == 2
    for n in range(23):
        log.record(heartbeat(n))
    log.record(heartbeat(50, charger="QUIET"))
    await log.writer.flush()
    assert await log.prune() == 3  # QUIET (one exchange) is not even queried
    assert await log.count("CP1") == 20
    log.record(heartbeat(30))
    await log.writer.flush()
    assert await log.prune() == 0  # one exchange since the check: below check_every
    assert await log.count("CP1") == 21  # within the bound plus a tenth
    log.record(heartbeat(31))
    await log.writer.flush()
    assert await log.prune() == 2
    assert [doc["unique_id"] for doc in await log.recent("CP1", limit=1)] == ["h31"]
    assert await log.count("CP1") == 20
