"""Filtered pages shared by the repositories (models.paging), on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.paging import NEWEST_FIRST, find_page, matching

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_matching_keeps_the_filters_given():
    assert matching(charger="CP1", status=None, connector=0) == {"charger": "CP1", "connector": 0}
    assert matching() == {}


@pytest.mark.gen_test
async def test_a_page_newest_first_with_the_total(db):
    await db.commands.insert_many(
        [{"_id": f"c{n}", "charger": "CP1" if n % 2 else "CP2", "ts": T0 + timedelta(minutes=n)}
         for n in range(7)]
    )  # fmt: skip
    page, total = await find_page(db.commands, {}, NEWEST_FIRST, 2, 3)
    assert ([doc["_id"] for doc in page], total) == (["c4", "c3", "c2"], 7)
    page, total = await find_page(db.commands, matching(charger="CP1"), NEWEST_FIRST, 0, 10)
    assert ([doc["_id"] for doc in page], total) == (["c5", "c3", "c1"], 3)
    assert await find_page(db.commands, {"charger": "NONE"}, NEWEST_FIRST, 0, 10) == ([], 0)
