"""`hub.worker.transport`.

- `seek_to_committed_or_beginning` on the real broker: after a rebalance Faust drops the
  records it had fetched and seeks back to the committed offsets; a partition the group
  never committed must go back to its beginning, not stay past the dropped records (the
  stall of `hub worker --until-idle` it caused).
- `expedite` on the real broker.
- `deliver`, the fetch loop's hand-over of a record without tasks (pure: a hand-over that
  completes, waits, is given up on a rebalance, fails); every worker test on the broker
  runs the fetch loop itself.
- The fetch loop never skips a record of an input topic (scripted fetches): records
  fetched but never handed over are sought again instead of becoming Faust "gaps" that
  commits pass; holes of compacted topics and after a seek stay gaps.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import uuid
from collections import defaultdict
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from faust.transport.consumer import Consumer
from faust.types import TP
from mode import Service
from mode.utils.locks import Event

from hub.worker.transport import RewindingConsumer, deliver, expedite, seek_to_committed_or_beginning

kafka = pytest.mark.kafka


@pytest.fixture
async def read_all(kafka_broker):
    """A topic of 5 records and a group consumer that has fetched them all, committing
    nothing (as Faust before its first commit)."""
    topic = f"rewind.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker)
    await producer.start()
    for i in range(5):
        await producer.send_and_wait(topic, b"%d" % i)
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_broker, group_id=f"g-{topic}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    tp = TopicPartition(topic, 0)
    seen = 0
    while seen < 5:
        batch = await consumer.getmany(timeout_ms=5000)
        seen += sum(len(records) for records in batch.values())
    assert await consumer.position(tp) == 5
    yield consumer, tp
    await consumer.stop()


@kafka
async def test_aiokafka_alone_leaves_a_never_committed_partition_past_its_records(read_all):
    consumer, tp = read_all
    assert (await consumer.seek_to_committed())[tp] is None
    assert await consumer.position(tp) == 5  # the premise of the fix


@kafka
async def test_a_never_committed_partition_goes_back_to_its_beginning(read_all):
    consumer, tp = read_all
    assert (await seek_to_committed_or_beginning(consumer))[tp] is None
    assert await consumer.position(tp) == 0


@kafka
async def test_a_committed_partition_goes_back_to_its_committed_offset(read_all):
    consumer, tp = read_all
    await consumer.commit({tp: OffsetAndMetadata(3, "")})
    assert (await seek_to_committed_or_beginning(consumer))[tp] == 3
    assert await consumer.position(tp) == 3


@kafka
async def test_partitions_of_kept_topics_are_left_where_they_are(read_all):
    consumer, tp = read_all
    await seek_to_committed_or_beginning(consumer, keep={tp.topic})
    assert await consumer.position(tp) == 5


@pytest.fixture
async def lingering(kafka_broker):
    """A producer that holds its batches a minute (its linger) and one sent record."""
    topic = f"linger.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker, linger_ms=60_000, acks="all",
                                enable_idempotence=True)
    await producer.start()
    futures = [await producer.send(topic, b"%d" % i, partition=i % 2) for i in range(4)]
    yield producer, futures
    expedite(producer)  # else stop() waits out the minute
    await producer.stop()


@kafka
async def test_without_expedite_a_record_waits_out_the_linger(lingering):
    _, futures = lingering
    done, _ = await asyncio.wait(futures, timeout=2)
    assert not done  # the premise: an awaited send would idle for the linger


@kafka
async def test_expedite_sends_lingering_batches_at_once(lingering):
    producer, futures = lingering
    expedite(producer)
    offsets = [m.offset for m in await asyncio.wait_for(asyncio.gather(*futures), timeout=20)]
    assert sorted(offsets) == [0, 0, 1, 1]
    # later sends linger again, and a second call sends them too
    more = await producer.send(futures and (await futures[0]).topic, b"late", partition=0)
    done, _ = await asyncio.wait([more], timeout=2)
    assert not done
    expedite(producer)
    assert (await asyncio.wait_for(more, timeout=20)).offset == 2


# -- deliver: the fetch loop's hand-over ------------------------------------------------


class FetchLoop(Service):
    """What `deliver` uses of Faust's consumer: `wait_first` (mode's) and `suspend_flow`."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = Event()
        self.waits = 0

    async def wait_first(self, *coros, timeout=None):
        self.waits += 1
        return await super().wait_first(*coros, timeout=timeout)


async def handover(log: list, gate: asyncio.Future | None = None, fail: str = ""):
    """A conductor's hand-over: waits on `gate` when given (a full stream buffer)."""
    log.append("start")
    try:
        if fail == "at once":
            raise ValueError(fail)
        if gate is not None:
            log.append(("got", await gate))
        if fail == "after waiting":
            raise ValueError(fail)
        log.append("delivered")
    except asyncio.CancelledError:
        log.append("given up")
        raise


async def test_a_handover_that_does_not_wait_runs_without_a_task():
    loop, log = FetchLoop(), []
    tasks = len(asyncio.all_tasks())
    await deliver(loop, handover(log))
    assert log == ["start", "delivered"]
    assert loop.waits == 0 and len(asyncio.all_tasks()) == tasks


async def test_a_handover_that_waits_is_resumed_where_it_stopped():
    loop, log = FetchLoop(), []
    gate = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(deliver(loop, handover(log, gate)))
    await asyncio.sleep(0.01)
    assert log == ["start"] and not task.done()  # still waiting for room
    gate.set_result("room")
    await asyncio.wait_for(task, 1)
    assert log == ["start", ("got", "room"), "delivered"]
    assert loop.waits == 1  # Faust's wait_first, as the whole hand-over would have had


async def test_a_waiting_handover_is_given_up_when_a_rebalance_suspends_the_flow():
    loop, log = FetchLoop(), []
    gate = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(deliver(loop, handover(log, gate)))
    await asyncio.sleep(0.01)
    loop.suspend_flow.set()
    await asyncio.wait_for(task, 1)  # returns: the record is dropped, Faust seeks back to it
    await asyncio.sleep(0)
    assert log == ["start", "given up"]
    assert gate.cancelled()  # its wait was cancelled, as the task of Faust's loop would have been


@pytest.mark.parametrize("when", ["at once", "after waiting"])
async def test_a_failing_handover_raises_in_the_fetch_loop(when):
    loop, log = FetchLoop(), []
    gate = asyncio.get_running_loop().create_future()
    gate.get_loop().call_later(0.01, gate.set_result, "room")
    with pytest.raises(ValueError, match=when):
        await asyncio.wait_for(deliver(loop, handover(log, gate, fail=when)), 1)


def test_faust_drain_loop_is_the_one_adapted():
    """`RewindingConsumer._drain_messages` is Faust 0.15.3's loop with one line changed:
    when Faust's changes, compare them and adapt ours, then update this digest."""
    source = inspect.getsource(Consumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
    )


# -- the fetch loop never skips a record ------------------------------------------------


class Msg:
    def __init__(self, tp: TP, offset: int) -> None:
        self.tp, self.topic, self.offset = tp, tp.topic, offset


class FakeConsumer:
    """What `RewindingConsumer._drain_messages` uses of Faust's consumer, scripted:
    `batches` are what successive `getmany` calls fetch; seeks and gaps are recorded."""

    def __init__(self, batches: list[list[tuple[TP, int]]], *, give_up: set[int] = frozenset()) -> None:
        self.batches, self.give_up = list(batches), give_up
        self.delivered: list[tuple[str, int]] = []
        self.seeks: list[tuple[str, int]] = []
        self.gaps: list[tuple[str, int, int]] = []
        self._stopped = Event()
        self._read_offset: dict = defaultdict(lambda: None)
        self._commit_every = None
        self.suspend_flow = Event()
        self.compacted = frozenset({"compacted.topic"})
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
                                   tables=SimpleNamespace(changelog_topics={"w-persons-changelog"}))
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self._thread = SimpleNamespace(seek_wait=self._seek_wait)
        self.should_stop = False
        self.may_have_holes = RewindingConsumer.may_have_holes.__get__(self)

    async def _seek_wait(self, partitions) -> None:
        for tp, offset in partitions.items():
            self.seeks.append((tp.topic, offset))
            self._read_offset[tp] = offset

    async def _add_gap(self, tp, start, end) -> None:
        self.gaps.append((tp.topic, start, end))

    async def sleep(self, seconds) -> None:
        await asyncio.sleep(0)

    async def getmany(self, timeout):
        if not self.batches:
            self._stopped.set()
            return
        for tp, offset in self.batches.pop(0):
            yield tp, Msg(tp, offset)

    async def callback(self, message) -> None:
        if message.offset in self.give_up:
            self.give_up = self.give_up - {message.offset}
            await asyncio.get_running_loop().create_future()  # stuck until given up
        self.delivered.append((message.topic, message.offset))

    async def wait_first(self, *coros, timeout=None):
        for c in coros:  # a rebalance suspends the flow: the stuck hand-over is given up
            if hasattr(c, "close"):
                c.close()
        return SimpleNamespace(done=[], results=[], stopped=False)

    async def drain(self) -> None:
        await RewindingConsumer._drain_messages(self, SimpleNamespace(_stopped=Event()))


INPUT, COMPACTED = TP("rectorat.eleves.v1", 0), TP("compacted.topic", 0)


async def test_records_fetched_but_never_handed_over_are_read_again():
    consumer = FakeConsumer([
        [(INPUT, 0), (INPUT, 1), (INPUT, 2)],
        [(INPUT, 5), (INPUT, 6)],  # 3 and 4 were dropped between two fetches
        [(INPUT, 3), (INPUT, 4), (INPUT, 5), (INPUT, 6)],  # fetched again after the seek
    ])
    await consumer.drain()
    assert consumer.seeks == [(INPUT.topic, 3)]
    assert [o for _, o in consumer.delivered] == [0, 1, 2, 3, 4, 5, 6]
    assert consumer.gaps == []  # no commit may pass 3 and 4


async def test_a_handover_given_up_does_not_count_as_read():
    consumer = FakeConsumer([[(INPUT, 0), (INPUT, 1), (INPUT, 2)], [(INPUT, 1), (INPUT, 2)]], give_up={1})
    await consumer.drain()
    assert consumer.seeks == [(INPUT.topic, 1)]  # 2 came after 0: 1 is read again
    assert [o for _, o in consumer.delivered] == [0, 1, 2]


async def test_holes_of_compacted_topics_and_after_a_seek_are_faust_gaps():
    compacted = FakeConsumer([[(COMPACTED, 0), (COMPACTED, 1), (COMPACTED, 4)]])
    await compacted.drain()
    assert compacted.seeks == [] and compacted.gaps == [(COMPACTED.topic, 2, 4)]
    assert [o for _, o in compacted.delivered] == [0, 1, 4]
    # Right after a seek (here to the committed offset 10), the first record may be past it:
    # records deleted by retention. Taken as a hole, not sought again for ever.
    after_seek = FakeConsumer([[(INPUT, 0)], [(INPUT, 15)]])

    async def seek_to_committed_then_fetch(timeout, _orig=after_seek.getmany):
        if len(after_seek.batches) == 1:
            after_seek._read_offset[INPUT] = 10
        async for item in _orig(timeout):
            yield item

    after_seek.getmany = seek_to_committed_then_fetch
    await after_seek.drain()
    assert after_seek.seeks == [] and after_seek.gaps == [(INPUT.topic, 11, 15)]
    assert [o for _, o in after_seek.delivered] == [0, 15]
