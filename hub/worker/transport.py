"""Faust's aiokafka producer and consumer, with two fixes the engine relies on.

- `IdempotentProducer`: acks=all and `enable_idempotence=True` (Faust turns idempotence
  on only for its experimental exactly-once mode), so a retried send never duplicates or
  reorders a record within a partition; `expedite` sends what lingers at once, for the
  sends the agent waits for.
- `RewindingConsumer`: after every rebalance Faust seeks each assigned partition back to
  its committed offset (`Consumer.perform_seek`), because records fetched while the
  rebalance stopped the flow, or under a generation that is gone, are dropped unread
  (`Consumer.getmany`). aiokafka's `seek_to_committed` only seeks where the committed
  offset is > 0: a partition the group has never committed keeps the fetch position
  past the dropped records, which are then never processed in that process's life and
  never committed, so `hub worker --until-idle` waits forever. Seen when a worker joins a
  young group, and after a worker killed -9 before its first commits. Such partitions
  go back to their beginning, which is what `auto_offset_reset="earliest"` means for a
  partition with no committed offset. The changelog partitions of Faust tables, if an
  app has any, are Faust's recovery's business and are left alone (the engine's own
  tables are read apart, by `tables.py`).
  It also never commits past an offset its streams did not acknowledge
  (`_new_offset`): Faust lets one unacknowledged offset at the head of a partition pass
  (its read offset after a seek counts the committed offset as read, which on a
  compacted topic may be a hole); on the engine's uncompacted inputs that offset is a
  record that was not processed, so the commit waits there and the commit watchdog
  (watchdog.py) has it read again. A record is never skipped.
  It counts an acknowledgement only for a record an agent has handled (`ack`): Faust's
  stream also acknowledges the records it skips without handing them over.
  And it hands each fetched record to Faust's conductor — or, for the persons agent's
  topics, to its intake (intake.py) — without four tasks and an `asyncio.wait` when the
  hand-over does not have to wait (`deliver`, `_drain_messages`).
  It knows when the group coordinator last counted it as a member (`answered_at`, from
  accepted heartbeats), so the engine does not write after a freeze that got it
  expelled (`still_member`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Container, Coroutine, Iterable, Mapping
from functools import cached_property
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaFaustConsumer
from faust.transport.drivers.aiokafka import Producer as AIOKafkaFaustProducer
from faust.transport.consumer import CONSUMER_FETCHING
from faust.types import TP
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from hub.kafka.client import answers
from hub.kafka.topics import compacted_topics
from hub.logging import get_logger

log = get_logger("hub.worker.transport")


class IdempotentProducer(AIOKafkaFaustProducer):
    """Faust's aiokafka producer with the idempotent producer on (acks=all)."""

    def _settings_extra(self):
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}

    def expedite(self) -> None:
        """Hand every lingering batch to the sender now (see `expedite`)."""
        expedite(self._ensure_producer())

    async def send_many(
        self, topic: str, partition: int, records: Iterable[tuple[bytes, bytes | None]], headers: list | None
    ) -> list[tuple[asyncio.Future, int]]:
        """Send `records` to one partition, in their order (see `send_many`)."""
        return await send_many(self._ensure_producer(), topic, partition, records, headers)

    async def broker_answers(self, timeout: float) -> bool | None:
        """Whether a broker answers a metadata request within `timeout` seconds, asked on
        this producer's connections (the worker's broker watch, watchdog.py); None while
        the producer is not started."""
        try:
            kafka = self._ensure_producer()
        except Exception:  # noqa: BLE001 — not started yet (or stopping): nothing to say
            return None
        return await answers(kafka.client.fetch_all_metadata(), timeout)


def expedite(producer: AIOKafkaProducer) -> None:
    """Hand every batch `producer` holds for its linger to its sender now.

    The linger (5 ms) lets records sent without waiting share produce requests; a send
    the agent *awaits* (a batch's changelog before its outputs) would sit out that
    linger with the agent idle: ≈ 25 % of the wall time of a 50k-event run.
    PRIVATE API (aiokafka 0.14): what `MessageAccumulator.flush_for_commit` does for
    transactions (close the open batches, wake the sender), without waiting;
    tests/worker/test_transport.py fails if aiokafka changes it.
    """
    accumulator = producer._message_accumulator  # noqa: SLF001
    for batches in accumulator._batches.values():  # noqa: SLF001
        for batch in batches:
            batch._builder.close()  # noqa: SLF001
    waiter = accumulator._waiter_future  # noqa: SLF001
    if not waiter.done():
        waiter.set_result(None)


async def send_many(
    producer: AIOKafkaProducer,
    topic: str,
    partition: int,
    records: Iterable[tuple[bytes, bytes | None]],
    headers: list | None,
) -> list[tuple[asyncio.Future, int]]:
    """Send `records` ((key, value) pairs, all with `headers`) to one partition, in their
    order, in as few record batches as they fit (the producer's batch size); returns
    each batch's future (its first record's RecordMetadata) and record count, so record
    i of a batch is at the batch's offset + i. aiokafka's batch API: no future and no
    accumulator look-up per record, which `send` pays (the engine's changelog writes,
    thousands a second, spent ≈ 10 % of its time there). A batch waits for the
    partition's previous one to be drained (aiokafka keeps the order so), which
    `expedite` makes immediate."""
    out: list[tuple[asyncio.Future, int]] = []
    headers = headers or []
    batch = producer.create_batch()
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:  # full
            out.append((await producer.send_batch(batch, topic, partition=partition), batch.record_count()))
            expedite(producer)
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None, headers=headers)  # a first record always fits
    if batch.record_count():
        out.append((await producer.send_batch(batch, topic, partition=partition), batch.record_count()))
    return out


async def seek_to_committed_or_beginning(consumer: AIOKafkaConsumer, keep: Container[str] = ()) -> dict:
    """Seek every assigned partition to its committed offset, or to its beginning when
    the group has committed none (or 0); partitions of the topics in `keep` are seeked
    only as aiokafka does. Returns aiokafka's committed offsets."""
    committed = await consumer.seek_to_committed()
    never = [tp for tp, offset in committed.items() if (offset is None or offset <= 0) and tp.topic not in keep]
    if never:
        await consumer.seek_to_beginning(*never)
    return committed


def watch_heartbeats(kafka_consumer: AIOKafkaConsumer, on_answer: Callable[[], None]) -> None:
    """Call `on_answer` at each heartbeat the group coordinator accepts (the broker then
    still counts this member in the group). PRIVATE API (aiokafka 0.14):
    `GroupCoordinator._do_heartbeat`, True when the heartbeat was accepted;
    tests/worker/test_transport.py fails if aiokafka changes it."""
    coordinator = kafka_consumer._coordinator  # noqa: SLF001
    original = coordinator._do_heartbeat  # noqa: SLF001

    async def _do_heartbeat() -> bool:
        accepted = await original()
        if accepted:
            on_answer()
        return accepted

    coordinator._do_heartbeat = _do_heartbeat  # noqa: SLF001


class _RewindingConsumerThread(AIOKafkaConsumerThread):
    async def on_start(self) -> None:
        await super().on_start()
        watch_heartbeats(self._consumer, self.consumer.group_answered)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        return await self.call_thread(self._seek)

    async def _seek(self) -> Mapping[TP, int]:
        return await seek_to_committed_or_beginning(self._ensure_consumer(), self.app.tables.changelog_topics)


class RewindingConsumer(AIOKafkaFaustConsumer):
    """Faust's aiokafka consumer whose post-rebalance seek also rewinds partitions that
    have no committed offset, and which never commits past an unacknowledged record
    (see module doc)."""

    @cached_property
    def compacted(self) -> frozenset[str]:
        """Compaction leaves holes in these topics' offsets: Faust's own rule applies."""
        return compacted_topics()

    # When the group coordinator last counted this worker as a member: its last accepted
    # heartbeat, or the assignment (monotonic seconds; written by the consumer thread).
    answered_at: float | None = None

    def group_answered(self) -> None:
        self.answered_at = time.monotonic()

    async def on_partitions_assigned(self, assigned, generation_id: int = 0) -> None:
        self.group_answered()
        await super().on_partitions_assigned(assigned, generation_id)

    async def still_member(self, within: float, give_up: Callable[[], bool]) -> bool:
        """Wait until the group coordinator has counted this worker as a member within
        the last `within` seconds (at once, as a rule: heartbeats come every 2 s); False
        when `give_up()` (a stop, a rebalance) comes first. After a freeze longer than
        the session timeout the broker has expelled the member while it still runs: its
        next heartbeat is refused, it joins again, and the generation changes — the
        writes it was about to make belong to the new owner (README, "Status")."""
        while self.answered_at is not None and time.monotonic() - self.answered_at > within:
            if give_up():
                return False
            await asyncio.sleep(0.05)
        return True

    # Topics whose records the fetch loop puts in an intake (intake.py) instead of
    # handing them to Faust's conductor; None: every record goes to the conductor.
    intake: Any = None

    @cached_property
    def handled(self) -> set:
        """The messages an agent has handled and not acknowledged yet (`ack`)."""
        return set()

    def ack(self, message) -> bool:
        """Count the acknowledgement of a record only if an agent has handled it.

        Faust's stream acknowledges the records it skips as well — fetched under a
        generation that is gone, or met while a rebalance has suspended the flow — "so
        that the lag does not grow" (`Stream._py_aiter`). Counted, they let the next
        commit pass records no agent had processed, lost if the worker stopped or the
        partition moved before they were fetched again (found by reading Faust while
        looking for the churn audit's loss, which was the fetch loop's: see
        `_drain_messages`). Such a record is only marked done for Faust (a rebalance
        does not wait for it), and it is read again from the committed offset. The
        agents add each message they take to `handled` (`hub.worker.app`).
        """
        try:
            self.handled.remove(message)
        except KeyError:
            self.forget(message)
            return False
        return super().ack(message)

    def forget(self, message) -> None:
        """Never count this record as acknowledged (it is read again from the committed
        offset): marked done for Faust, whose ack then skips it and whose rebalance or
        stop no longer waits for it. PRIVATE API: `Message.acked`,
        `Consumer._unacked_messages`, `Consumer._waiting_for_ack`."""
        with ack_lock:
            self.handled.discard(message)
            message.acked = True
            self._unacked_messages.discard(message)
            notify(self._waiting_for_ack)

    def _new_offset(self, tp: TP) -> int | None:
        acked, committed = self._acked[tp], self._committed_offset[tp]
        if acked and committed is not None and tp.topic not in self.compacted and not self._gap[tp]:
            if min(acked) > committed:
                return None  # the record at `committed` was never acknowledged
        return super()._new_offset(tp)

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _RewindingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def may_have_holes(self, topic: str) -> bool:
        """Compacted topics (ours, and the tables' changelogs) have offsets with no record."""
        return topic in self.compacted or topic in self.app.tables.changelog_topics

    async def _sought_back(self, tp: TP, offset: int, r_offset: int | None, last: int | None) -> bool:
        """For a record that is not the one after the last handed over (`last`): True
        when records before it were fetched and never handed over, and the partition is
        sought back to them (see `_drain_messages`); otherwise its gap, if any, is one
        commits may pass (`_add_gap`): holes of a compacted topic, records deleted by
        retention."""
        acks = self.app.topics.acks_enabled_for(tp.topic)
        if self.may_have_holes(tp.topic):  # Faust's own rule
            if r_offset and offset - r_offset > 1 and acks:
                await self._add_gap(tp, r_offset + 1, offset)
            return False
        # The record expected: the one after the last handed over, or, after a seek
        # (Faust's read offset is then the offset sought, None for the beginning), the
        # one sought.
        if r_offset is not None and last == r_offset:
            expected = r_offset + 1
        else:
            expected = r_offset if r_offset is not None else await self._log_start(tp)
        if expected is None or offset <= expected:
            return False
        start = await self._log_start(tp)
        if start is not None and offset <= start:  # deleted by retention: commits may pass them
            if acks:
                await self._add_gap(tp, expected, offset)
            return False
        log.warning("records fetched but never handed over: read again", topic=tp.topic, partition=tp.partition,
                    missed=offset - expected, offset=expected)
        await self._seek_back(tp, expected)
        return True

    async def _log_start(self, tp: TP) -> int | None:
        """The partition's first offset (records before it were deleted by retention);
        None when the broker cannot say now."""
        try:
            return (await self.earliest_offsets(tp)).get(tp)
        except Exception as exc:  # noqa: BLE001 — e.g. revoked meanwhile: the rebalance seeks
            log.warning("log start unknown", topic=tp.topic, partition=tp.partition, reason=type(exc).__name__)
            return None

    async def _seek_back(self, tp: TP, offset: int) -> None:
        try:
            await self._thread.seek_wait({tp: offset})  # sets the read offset
        except Exception as exc:  # noqa: BLE001 — revoked meanwhile: the rebalance seeks
            log.warning("seek back failed", topic=tp.topic, partition=tp.partition, reason=type(exc).__name__)

    async def _drain_messages(self, fetcher) -> None:  # pragma: no cover — run by every worker test
        """Faust's fetch loop (faust-streaming 0.15.3, `Consumer._drain_messages`; the
        test `test_faust_drain_loop_is_the_one_adapted` fails if Faust's changes), with
        two differences.

        **No record skipped.** When the next record of a partition is not the one after
        the last it handed over, Faust takes the offsets between for holes (compaction,
        transaction markers) and lets its commits pass them (`_add_gap`). On a topic
        without holes (every engine input) they are records it fetched and never handed
        over — its `getmany` drops the records of a partition it is not fetching at that
        moment, and a hand-over given up on a rebalance still counted as read — and
        passing them lost them: seen as a TICK never applied on one partition while the
        group committed past it (tests/worker/test_two_workers.py, under load). Here the
        partition is sought back to the first record not handed over and the rest of
        the fetched batch for it dropped; Faust's own rule stays for compacted topics. A
        record counts as read only once handed over. After a seek (a rebalance seeks
        every partition to its committed offset; Faust's read offset is then the offset
        sought) the record expected is the one sought: a fetch made before the rebalance
        can come back after the seek, and its records taken for the first ones after it
        lost those between (the churn audit, README "Status"). Only a jump to the
        partition's first offset is a hole there: records deleted by retention.

        **No tasks per record.** A record goes to the conductor through `deliver` instead
        of `wait_first(callback(message), suspend_flow.wait())` — or, for the topics of
        the consumer's `intake` (the persons agent's, intake.py), to that intake,
        without Faust's conductor, events and streams.

        Faust's `wait_first` makes four tasks and an `asyncio.wait` per record so that a
        hand-over stuck on a full stream buffer (or a paused flow) can be given up when a
        rebalance suspends the flow; the hand-over almost never waits, and those tasks
        were nearly half of Faust's own cost per record (bench/engine.py, one run of
        2026-12-06: a bare agent 208 → 114 µs of CPU per record, 5,800 → 12,500
        records/s; README "Benchmarks" has the latest).
        PRIVATE API: `_read_offset`, `_add_gap`, `_commit_every`, `_n_acked`, `_thread.seek_wait`.
        """
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep
        delivered: dict[TP, int] = {}  # the last offset handed over, per partition, since the last seek
        app = self.app
        generation = app.consumer_generation_id
        intake = self.intake
        intake_topics = intake.topics if intake is not None else frozenset()
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                sought: set[TP] = set()
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        if tp in sought:
                            continue  # fetched before the seek back: they come again
                        if app.consumer_generation_id != generation:  # a rebalance sought them all
                            generation = app.consumer_generation_id
                            delivered.clear()
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            # Not the record after the last one handed over (a seek, a jump):
                            if (r_offset is None or offset != r_offset + 1 or delivered.get(tp) != r_offset) \
                                    and await self._sought_back(tp, offset, r_offset, delivered.get(tp)):
                                sought.add(tp)
                                delivered.pop(tp, None)
                                continue
                            if commit_every is not None:
                                if self._n_acked >= commit_every:
                                    self._n_acked = 0
                                    await self.commit()
                            handover = intake.put(message) if tp.topic in intake_topics else callback(message)
                            if await deliver(self, handover):
                                set_read_offset(tp, offset)
                                delivered[tp] = offset
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


async def deliver(consumer, handover: Coroutine) -> bool:
    """Run `handover` (Faust's conductor handing a record to its streams) as Faust's
    fetch loop does — given up if the consumer's flow is suspended (a rebalance) or the
    consumer stops while it waits —, without a task when it does not wait.

    Its first step runs here: when it completes (the stream buffers had room, the flow
    was on: nearly always), that is all. When it suspends instead, the rest of it
    (`_Rest`, the awaitable that resumes it where it stopped) goes to Faust's
    `wait_first` with the consumer's `suspend_flow`, exactly as the whole would have.
    True when the record was handed over, False when it was given up."""
    try:
        waiting = handover.send(None)
    except StopIteration:
        return True
    rest = _Rest(handover, waiting)
    result = await consumer.wait_first(rest, consumer.suspend_flow.wait())
    return rest in result.done


class _Rest(Awaitable):
    """The rest of a coroutine whose first step has run and suspended on `waiting` (what
    its task would have done from there: hand `waiting` to the event loop, resume the
    coroutine with what comes back, until it returns)."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine, waiting: Any) -> None:
        self.coro, self.waiting = coro, waiting

    def __await__(self):
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                sent = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 — a cancellation goes into the coroutine
                try:
                    waiting = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration as stop:
                    return stop.value

