"""Filtered, paged listings shared by the repositories: a query from the filters that
were given, and one page of it with the total."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

Sort = tuple[tuple[str, int], ...]
NEWEST_FIRST: Sort = (("ts", DESCENDING), ("_id", DESCENDING))


def matching(**fields: Any) -> dict[str, Any]:
    """An equality query of the ``fields`` that are not None."""
    return {name: value for name, value in fields.items() if value is not None}


async def find_page(
    coll: AsyncCollection, query: dict[str, Any], sort: Sort, skip: int, limit: int,
) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """One page of ``query`` in ``sort`` order and how many documents match in all."""
    page = await coll.find(query).sort(list(sort)).skip(skip).limit(limit).to_list()
    return page, await coll.count_documents(query)
