"""`hub.worker.transport`.

- `seek_to_committed_or_beginning` on the real broker: after a rebalance Faust drops the
  records it had fetched and seeks back to the committed offsets; a partition the group
  never committed must go back to its beginning, not stay past the dropped records (the
  stall of `hub worker --until-idle` it caused).
- `expedite` and `send_many` on the real broker.
- `deliver`, the fetch loop's hand-over of a record without tasks (pure: a hand-over that
  completes, waits, is given up on a rebalance, fails); every worker test on the broker
  runs the fetch loop itself.
- The fetch loop never skips a record of an input topic (scripted fetches): records
  fetched but never handed over are sought again instead of becoming Faust "gaps" that
  commits pass; holes of compacted topics and after a seek stay gaps.
- Only the acknowledgements of records an agent handled count (`RewindingConsumer.ack`):
  those of the records Faust's stream skips do not.
- Membership (`still_member`, `watch_heartbeats` on the real broker) and the broker
  watch's probe (`IdempotentProducer.broker_answers`).
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
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

import faust
from faust.transport.consumer import Consumer
from faust.types import TP, ConsumerMessage
from mode import Service
from mode.utils.locks import Event

from hub.worker.intake import Intake
from hub.worker.transport import (
    IdempotentProducer,
    RewindingConsumer,
    deliver,
    expedite,
    seek_to_committed_or_beginning,
    send_many,
    watch_heartbeats,
)

kafka = pytest.mark.kafka


async def new_topic(broker: str, prefix: str, partitions: int) -> str:
    """A fresh topic named `prefix.<random>`."""
    topic = f"{prefix}.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    return topic


@pytest.fixture
async def read_all(kafka_broker):
    """A topic of 5 records and a group consumer that has fetched them all, committing
    nothing (as Faust before its first commit)."""
    topic = await new_topic(kafka_broker, "rewind", 1)
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
    topic = await new_topic(kafka_broker, "linger", 2)
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


@kafka
async def test_send_many_keeps_the_order_and_says_where_each_record_is(kafka_broker):
    """More records than one batch holds: every record on its partition in the order
    given, at its batch's offset + its index, with the headers; not one lingering minute
    between two batches (each waits for the previous one to be drained)."""
    topic = await new_topic(kafka_broker, "many", 2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker, linger_ms=60_000, acks="all",
                                enable_idempotence=True, max_batch_size=1024)
    await producer.start()
    try:
        records = [(b"k%03d" % i, b"v%03d" % i * 20 if i % 7 else None) for i in range(200)]
        batches = await asyncio.wait_for(
            send_many(producer, topic, 1, records, [("hub-epoch", b"3:1")]), timeout=30
        )
        assert len(batches) > 5 and sum(count for _, count in batches) == len(records)
        expedite(producer)
        offsets = [(await asyncio.wait_for(fut, timeout=30)).offset + i for fut, count in batches
                   for i in range(count)]
        assert offsets == list(range(len(records)))
        assert await send_many(producer, topic, 1, [], None) == []
    finally:
        expedite(producer)
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_broker, auto_offset_reset="earliest")
    await consumer.start()
    tp = TopicPartition(topic, 1)
    consumer.assign([tp])
    got = []
    while len(got) < len(records):
        for msgs in (await consumer.getmany(tp, timeout_ms=5000)).values():
            got += msgs
    await consumer.stop()
    assert [(m.key, m.value) for m in got] == records
    assert [m.offset for m in got] == list(range(len(records)))
    assert all(m.headers == (("hub-epoch", b"3:1"),) for m in got)


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

    def __init__(self, batches: list[list[tuple[TP, int]]], *, give_up: set[int] = frozenset(),
                 intake: Intake | None = None) -> None:
        self.batches, self.give_up = list(batches), give_up
        self.intake = intake
        self.delivered: list[tuple[str, int]] = []
        self.seeks: list[tuple[str, int]] = []
        self.gaps: list[tuple[str, int, int]] = []
        self._stopped = Event()
        self._read_offset: dict = defaultdict(lambda: None)
        self._commit_every = None
        self.suspend_flow = Event()
        self.compacted = frozenset({"compacted.topic"})
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
                                   tables=SimpleNamespace(changelog_topics={"w-persons-changelog"}),
                                   consumer_generation_id=1)
        self.log_start = 0  # the partitions' first offset (retention deletes before it)
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self._thread = SimpleNamespace(seek_wait=self._seek_wait)
        self.should_stop = False
        self.may_have_holes = RewindingConsumer.may_have_holes.__get__(self)
        self._sought_back = RewindingConsumer._sought_back.__get__(self)
        self._log_start = RewindingConsumer._log_start.__get__(self)
        self._seek_back = RewindingConsumer._seek_back.__get__(self)

    async def earliest_offsets(self, *tps):
        return {tp: self.log_start for tp in tps}

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


def seek_before(consumer: FakeConsumer, fetch: int, offset: int | None, *, rebalance: bool = False) -> None:
    """Before the `fetch`-th fetch (from 0), a seek sets the read offset to `offset`, as
    Faust's seek to the committed offsets does after a rebalance (None: never committed,
    sought to the beginning)."""
    orig = consumer.getmany

    async def getmany(timeout):
        if len(consumer.batches) == len_at[0] - fetch:
            consumer._read_offset[INPUT] = offset
            if rebalance:
                consumer.app.consumer_generation_id += 1
        async for item in orig(timeout):
            yield item

    len_at = [len(consumer.batches)]
    consumer.getmany = getmany


async def test_records_of_the_intake_s_topics_go_to_the_intake_the_others_to_the_conductor():
    intake = Intake({INPUT.topic}, 10)
    consumer = FakeConsumer([[(INPUT, 0), (COMPACTED, 0), (INPUT, 1)]], intake=intake)
    await consumer.drain()
    assert [(m.topic, m.offset) for m in await intake.take(10, within=0)] == [(INPUT.topic, 0), (INPUT.topic, 1)]
    assert consumer.delivered == [(COMPACTED.topic, 0)]
    assert consumer._read_offset[INPUT] == 1


async def test_a_hand_over_to_a_full_intake_given_up_does_not_count_as_read():
    """The intake full when a rebalance suspends the flow: the waiting hand-over is given
    up, and the record is not read (fetched again after the seek)."""
    intake = Intake({INPUT.topic}, 1)
    consumer = FakeConsumer([[(INPUT, 0), (INPUT, 1)]], intake=intake)
    await consumer.drain()
    assert consumer._read_offset[INPUT] == 0
    assert [m.offset for m in await intake.take(10, within=0)] == [0]


async def test_holes_of_compacted_topics_are_faust_gaps():
    compacted = FakeConsumer([[(COMPACTED, 0), (COMPACTED, 1), (COMPACTED, 4)]])
    await compacted.drain()
    assert compacted.seeks == [] and compacted.gaps == [(COMPACTED.topic, 2, 4)]
    assert [o for _, o in compacted.delivered] == [0, 1, 4]


async def test_records_fetched_before_a_seek_and_handed_in_after_it_are_read_again():
    """The churn audit's loss: a fetch made before a rebalance returned after Faust had
    sought the partition back to its committed offset (10); its records (from 15) were
    taken for the first ones after the seek, 10 to 14 for holes, and commits passed them."""
    consumer = FakeConsumer([
        [(INPUT, 0)],
        [(INPUT, 15), (INPUT, 16)],  # stale: fetched from where the position was before the seek
        [(INPUT, 10), (INPUT, 11)],  # from the committed offset
    ])
    seek_before(consumer, 1, 10, rebalance=True)
    await consumer.drain()
    assert consumer.seeks == [(INPUT.topic, 10)] and consumer.gaps == []
    assert [o for _, o in consumer.delivered] == [0, 10, 11]


async def test_after_a_seek_to_the_beginning_the_first_record_must_be_the_first_one():
    consumer = FakeConsumer([[(INPUT, 5)], [(INPUT, 3), (INPUT, 4), (INPUT, 5)]])
    consumer.log_start = 3
    seek_before(consumer, 0, None)
    await consumer.drain()
    assert consumer.seeks == [(INPUT.topic, 3)] and consumer.gaps == []
    assert [o for _, o in consumer.delivered] == [3, 4, 5]


async def test_records_deleted_by_retention_are_gaps_the_commit_may_pass():
    consumer = FakeConsumer([[(INPUT, 15), (INPUT, 16)]])
    consumer.log_start = 15  # 10 to 14 deleted since the group committed 10
    seek_before(consumer, 0, 10)
    await consumer.drain()
    assert consumer.seeks == [] and consumer.gaps == [(INPUT.topic, 10, 15)]
    assert [o for _, o in consumer.delivered] == [15, 16]


async def test_after_a_rebalance_the_record_expected_is_the_committed_one():
    """3 was handed over but its batch never acknowledged; the rebalance seeks back to
    the committed offset 3: 3 must come first, whatever was handed over before."""
    consumer = FakeConsumer([[(INPUT, 2), (INPUT, 3)], [(INPUT, 4)], [(INPUT, 3), (INPUT, 4)]])
    consumer._read_offset[INPUT] = 2  # the group had committed 2
    seek_before(consumer, 1, 3, rebalance=True)
    await consumer.drain()
    assert consumer.seeks == [(INPUT.topic, 3)]
    assert [o for _, o in consumer.delivered] == [2, 3, 3, 4]


# -- only the records an agent handled count as acknowledged ------------------------------------


@pytest.fixture
def consumer():
    app = faust.App("ack-test", broker="kafka://127.0.0.1:1")
    async def nothing(*args) -> None:
        pass

    c = RewindingConsumer(app.transport, callback=nothing, on_partitions_revoked=nothing,
                          on_partitions_assigned=nothing)
    c._committed_offset[INPUT] = 10
    app.topics.acks_enabled_for = lambda topic: True  # as for a topic an agent consumes
    return c


def message(offset: int) -> ConsumerMessage:
    return ConsumerMessage(INPUT.topic, INPUT.partition, offset, 0.0, 0, [], b"k", b"v", None, 1, 1, INPUT)


def test_a_record_the_stream_skipped_is_not_counted_as_acknowledged(consumer):
    """Faust's stream acknowledges the records it skips (fetched under a generation
    that is gone, or met while a rebalance suspends the flow): counted, the next commit
    passed them, and a stop before they were fetched again lost them."""
    skipped = [message(10), message(11)]
    for m in skipped:
        consumer._unacked_messages.add(m)
        assert m.ack(consumer) is False
    assert all(m.acked for m in skipped)  # done for Faust: a rebalance does not wait for it
    assert not consumer._unacked_messages
    assert consumer._acked[INPUT] == []
    assert consumer._new_offset(INPUT) is None  # nothing to commit: 10 is read again


def test_a_record_an_agent_handled_is_counted(consumer):
    handled = [message(10), message(11)]
    consumer.handled.update(handled)
    assert [m.ack(consumer) for m in handled] == [True, True]
    assert consumer.handled == set()
    assert consumer._new_offset(INPUT) == 12
    skipped = message(12)  # after them, one the stream skipped: the commit stops before it
    skipped.ack(consumer)
    assert consumer._new_offset(INPUT) is None


# -- membership: the group's last word about this worker ---------------------------------------


async def test_a_worker_heard_from_lately_is_a_member_at_once(consumer):
    consumer.group_answered()
    assert await asyncio.wait_for(consumer.still_member(8.0, give_up=lambda: False), 0.5) is True
    # A rebalance beginning is the caller's business then (fence: generation, assignment).
    assert await asyncio.wait_for(consumer.still_member(8.0, give_up=lambda: True), 0.5) is True


async def test_a_worker_not_heard_from_waits_for_an_accepted_heartbeat(consumer):
    """After a freeze (the heartbeats stopped with the process): no write until the
    group has counted the worker again."""
    consumer.answered_at = asyncio.get_running_loop().time() - 30  # monotonic, as the heartbeats' clock
    waiting = asyncio.create_task(consumer.still_member(8.0, give_up=lambda: False))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    consumer.group_answered()  # a heartbeat accepted
    assert await asyncio.wait_for(waiting, 0.5) is True


async def test_a_worker_not_heard_from_gives_up_on_the_rebalance_that_expels_it(consumer):
    consumer.answered_at = asyncio.get_running_loop().time() - 30
    rebalanced = False
    waiting = asyncio.create_task(consumer.still_member(8.0, give_up=lambda: rebalanced))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    rebalanced = True  # its heartbeat refused, it joined again: a new generation
    assert await asyncio.wait_for(waiting, 0.5) is False


async def test_an_assignment_counts_as_the_group_s_word(consumer):
    consumer.answered_at = asyncio.get_running_loop().time() - 30
    await consumer.on_partitions_assigned(set(), 7)
    assert await asyncio.wait_for(consumer.still_member(8.0, give_up=lambda: False), 0.5) is True


@kafka
async def test_accepted_heartbeats_are_seen_on_the_real_broker(kafka_broker):
    """`watch_heartbeats` relies on aiokafka's private `GroupCoordinator._do_heartbeat`:
    this fails if aiokafka changes it."""
    topic = await new_topic(kafka_broker, "heartbeat", 1)
    member = AIOKafkaConsumer(topic, bootstrap_servers=kafka_broker, group_id=f"g-{topic}",
                              heartbeat_interval_ms=200, session_timeout_ms=6000)
    await member.start()
    try:
        answers: list[float] = []
        watch_heartbeats(member, lambda: answers.append(asyncio.get_running_loop().time()))
        await member.getmany(timeout_ms=500)  # joins the group
        for _ in range(100):
            if len(answers) >= 3:
                break
            await asyncio.sleep(0.1)
        assert len(answers) >= 3
    finally:
        await member.stop()


# -- the broker watch's probe ---------------------------------------------------------------


class _Client:
    def __init__(self, how: str) -> None:
        self.how = how

    async def fetch_all_metadata(self):
        if self.how == "hangs":
            await asyncio.Event().wait()
        if self.how == "fails":
            raise KafkaError("Unable to get cluster metadata over all known brokers")
        return object()


class _Producer:
    def __init__(self, how: str) -> None:
        self.how = how

    def _ensure_producer(self):
        if self.how == "not started":
            raise RuntimeError("Producer service not yet started")
        return SimpleNamespace(client=_Client(self.how))


@pytest.mark.parametrize(("how", "expected"), [("answers", True), ("fails", False), ("hangs", False),
                                                ("not started", None)])
async def test_broker_answers_with_the_metadata_of_the_producer_client_within_the_timeout(how, expected):
    assert await IdempotentProducer.broker_answers(_Producer(how), timeout=0.05) is expected
