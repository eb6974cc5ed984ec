"""`hub.worker.intake`: the persons agent's records, handed over by the fetch loop and
taken in batches (pure asyncio; every worker test on the broker runs it for real)."""

from __future__ import annotations

import asyncio

import pytest
from mode.utils.queues import FlowControlEvent

from hub.worker.intake import Intake


def intake(maxsize: int = 100, **kwargs) -> tuple[Intake, list, list]:
    tracked: list = []
    forgotten: list = []
    return Intake({"t"}, maxsize, track=tracked.append, forget=forgotten.append, **kwargs), tracked, forgotten


async def test_a_full_batch_is_taken_at_once_in_order_and_tracked():
    i, tracked, _ = intake()
    for n in range(25):
        await i.put(n)
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await i.take(10, within=5) == list(range(10))
    assert await i.take(10, within=5) == list(range(10, 20))
    assert loop.time() - start < 1  # full batches: no wait
    assert tracked == list(range(20))
    assert len(i) == 5


async def test_a_batch_closes_within_seconds_of_its_first_record():
    i, _, _ = intake()
    loop = asyncio.get_running_loop()
    await i.put("a")
    start = loop.time()
    later = loop.call_later(0.05, lambda: asyncio.ensure_future(i.put("b")))
    batch = await i.take(10, within=0.3)
    assert batch == ["a", "b"]  # what arrived meanwhile is in it
    assert 0.25 <= loop.time() - start < 2
    later.cancel()


async def test_a_batch_that_fills_while_waiting_closes_at_once():
    i, _, _ = intake()
    await i.put(0)

    async def fill():
        for n in range(1, 5):
            await i.put(n)

    asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(fill()))
    start = asyncio.get_running_loop().time()
    assert await i.take(5, within=10) == [0, 1, 2, 3, 4]
    assert asyncio.get_running_loop().time() - start < 5


async def test_take_waits_for_a_first_record():
    i, _, _ = intake()
    task = asyncio.ensure_future(i.take(10, within=0))
    await asyncio.sleep(0.05)
    assert not task.done()
    await i.put("x")
    assert await asyncio.wait_for(task, 5) == ["x"]


async def test_a_full_intake_holds_the_hand_over_until_a_batch_is_taken():
    i, _, _ = intake(maxsize=3)
    for n in range(3):
        await i.put(n)
    put = asyncio.ensure_future(i.put(3))
    await asyncio.sleep(0.05)
    assert not put.done() and len(i) == 3  # back-pressure: the fetch loop waits
    assert await i.take(2, within=0) == [0, 1]
    await asyncio.wait_for(put, 5)
    assert await i.take(10, within=0) == [2, 3]


async def test_clear_forgets_the_waiting_records_and_frees_the_hand_over():
    i, tracked, forgotten = intake(maxsize=2)
    await i.put("a")
    await i.put("b")
    put = asyncio.ensure_future(i.put("c"))
    await asyncio.sleep(0.01)
    i.clear()
    assert forgotten == ["a", "b"]  # never acknowledged: read again after the seek
    await asyncio.wait_for(put, 5)
    assert await i.take(10, within=0) == ["c"]
    assert tracked == ["c"]


async def test_a_batch_being_waited_for_survives_a_clear():
    """Cleared while a take waits for its batch to fill: the take goes on waiting for
    records instead of returning an empty batch."""
    i, _, forgotten = intake()
    await i.put("old")
    task = asyncio.ensure_future(i.take(10, within=0.2))
    await asyncio.sleep(0.02)
    i.clear()
    await asyncio.sleep(0.3)
    assert not task.done() and forgotten == ["old"]
    await i.put("new")
    assert await asyncio.wait_for(task, 5) == ["new"]


async def test_flow_control_holds_hand_overs_and_clears_the_intake():
    """As Faust's stream queues: nothing is handed over while a rebalance suspends the
    flow, and Faust's `flow_control.clear()` (at a revocation, and when the flow
    resumes) empties the intake too."""
    flow = FlowControlEvent(initially_suspended=False)
    i, _, forgotten = intake(flow_control=flow)
    await i.put(1)
    flow.suspend()
    put = asyncio.ensure_future(i.put(2))
    await asyncio.sleep(0.05)
    assert not put.done()
    flow.clear()
    assert forgotten == [1] and len(i) == 0
    flow.resume()
    await asyncio.wait_for(put, 5)
    assert await i.take(10, within=0) == [2]


@pytest.mark.parametrize("maxsize", [1, 7])
async def test_every_record_is_taken_once_in_the_order_handed_over(maxsize):
    i, tracked, forgotten = intake(maxsize=maxsize)

    async def producer():
        for n in range(200):
            await i.put(n)

    task = asyncio.ensure_future(producer())
    taken: list = []
    while len(taken) < 200:
        taken += await i.take(5, within=0.001)
    await task
    assert taken == list(range(200)) == tracked and forgotten == []
