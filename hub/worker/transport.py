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
  partition with no committed offset. Changelog partitions are Faust's recovery's
  business (it seeks them to the offsets the tables persisted) and are left alone.
  It also never commits past an offset its streams did not acknowledge
  (`_new_offset`): Faust lets one unacknowledged offset at the head of a partition pass
  (its read offset after a seek counts the committed offset as read, which on a
  compacted topic may be a hole); on the engine's uncompacted inputs that offset is a
  record that was not processed, so the commit waits there and the commit watchdog
  (watchdog.py) has it read again. A record is never skipped.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from functools import cached_property

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaFaustConsumer
from faust.transport.drivers.aiokafka import Producer as AIOKafkaFaustProducer
from faust.types import TP

from hub.kafka.topics import compacted_topics


class IdempotentProducer(AIOKafkaFaustProducer):
    """Faust's aiokafka producer with the idempotent producer on (acks=all)."""

    def _settings_extra(self):
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}

    def expedite(self) -> None:
        """Hand every lingering batch to the sender now (see `expedite`)."""
        expedite(self._ensure_producer())


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


async def seek_to_committed_or_beginning(consumer: AIOKafkaConsumer, keep: Container[str] = ()) -> dict:
    """Seek every assigned partition to its committed offset, or to its beginning when
    the group has committed none (or 0); partitions of the topics in `keep` are seeked
    only as aiokafka does. Returns aiokafka's committed offsets."""
    committed = await consumer.seek_to_committed()
    never = [tp for tp, offset in committed.items() if (offset is None or offset <= 0) and tp.topic not in keep]
    if never:
        await consumer.seek_to_beginning(*never)
    return committed


class _RewindingConsumerThread(AIOKafkaConsumerThread):
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

    def _new_offset(self, tp: TP) -> int | None:
        acked, committed = self._acked[tp], self._committed_offset[tp]
        if acked and committed is not None and tp.topic not in self.compacted and not self._gap[tp]:
            if min(acked) > committed:
                return None  # the record at `committed` was never acknowledged
        return super()._new_offset(tp)

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _RewindingConsumerThread(self, loop=self.loop, beacon=self.beacon)
