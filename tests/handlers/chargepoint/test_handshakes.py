"""The queue of charger handshakes in progress."""

from __future__ import annotations

import asyncio

import pytest

from handlers.chargepoint.handshakes import HandshakeQueue


@pytest.mark.gen_test
async def test_at_most_width_at_once_the_others_in_order_of_arrival():
    queue = HandshakeQueue(2)
    first, second = await queue.enter(), await queue.enter()
    order: list[int] = []

    async def wait(n):
        slot = await queue.enter()
        order.append(n)
        return slot

    waiting = [asyncio.ensure_future(wait(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    assert (order, queue.waiting) == ([], 3)
    first.release()
    first.release()  # twice: still one place
    await asyncio.sleep(0.01)
    assert (order, queue.waiting) == ([0], 2)
    second.release()
    await asyncio.sleep(0.01)
    assert order == [0, 1]
    (await waiting[0]).release()
    await asyncio.sleep(0.01)
    assert order == [0, 1, 2]
    for task in waiting[1:]:
        (await task).release()


@pytest.mark.gen_test
async def test_a_forgotten_slot_comes_back_after_the_hold_limit():
    queue = HandshakeQueue(1, hold_limit=0.05)
    await queue.enter()  # never released by its holder
    later = await asyncio.wait_for(queue.enter(), 2)
    later.release()


@pytest.mark.gen_test
async def test_width_0_does_not_bound():
    queue = HandshakeQueue(0)
    slots = [await queue.enter() for _ in range(1000)]
    assert queue.waiting == 0
    for slot in slots:
        slot.release()
