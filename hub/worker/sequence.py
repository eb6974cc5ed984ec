"""Clock ticks and directory updates in the order their records were written.

The clock agent (hub.watermarks.v1) and the directory agent (hub.directory.v1) each
broadcast to every partition of the internal topic, and the persons agent applies what
comes first first. Two topics are fetched in no set order: a worker stopped while
watermarks and then a directory update were published applied the update at the
previous clock when its fetches brought the directory first, where a running worker had
applied the new clock first — an open case re-routed in one, closed where it was in the
other (rules.md §3: restarts never change a result).

So before broadcasting for a record, each agent waits until every record of the other
topic written before it (by Kafka timestamp; on a tie the watermark goes first) has been
handled: by this worker's agent (its broadcasts went to the same producer first, so they
come first on every internal partition), or by the group — the other topic's partition
may be another worker's, whose commits follow its producer's flush. A watermark and a
directory update are rare: the wait costs an offset look-up each, and it lasts only
while the other agent catches up. A wait gives up when a rebalance begins (Faust's
rebalance waits for the record in hand, and the other topic's new owner may be the
member that rebalance brings): the agent then puts the record back, unacknowledged,
and it is read again after the rebalance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import TopicPartition
from mode import Service

from hub.kafka import client
from hub.kafka.topics import DIRECTORY, WATERMARKS
from hub.logging import get_logger
from hub.settings import Settings

log = get_logger("hub.worker.sequence")

REPORT_AFTER = 10.0  # seconds of waiting before a line says what for
POLL_MAX = 0.5


class Sequencer(Service):
    """What the clock and directory agents of this worker have handled, and the wait
    (module doc). Its Kafka clients start at the first wait."""

    def __init__(self, settings: Settings, **kwargs) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.handled: dict[str, int] = {}  # topic → next offset after what this worker's agent handled
        self._consumer = None
        self._admin = None
        self._starting = asyncio.Lock()  # both agents may ask for the clients at once

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await client.stop_consumer(self._consumer)
        if self._admin is not None:
            await self._admin.close()

    async def _clients(self):
        async with self._starting:
            if self._consumer is None:
                consumer = client.consumer(settings=self.settings, group_id=None)
                await client.started(consumer)
                self._consumer = consumer
            if self._admin is None:
                admin = client.admin(self.settings)
                await client.started(admin)
                self._admin = admin
        return self._consumer, self._admin

    def done(self, topic: str, offset: int) -> None:
        """This worker's agent of `topic` has handled the record at `offset`."""
        if offset + 1 > self.handled.get(topic, 0):
            self.handled[topic] = offset + 1

    async def after_watermarks(self, timestamp_ms: int | None, give_up: Callable[[], bool]) -> bool:
        """Before a directory update written at `timestamp_ms`: every watermark written
        at or before it is handled. False when `give_up()` came first."""
        return timestamp_ms is None or await self._after(WATERMARKS, timestamp_ms + 1, give_up)

    async def after_directory(self, timestamp_ms: int | None, give_up: Callable[[], bool]) -> bool:
        """Before a watermark written at `timestamp_ms`: every directory record written
        before it is handled. False when `give_up()` came first."""
        return timestamp_ms is None or await self._after(DIRECTORY, timestamp_ms, give_up)

    async def _after(self, topic: str, before_ms: int, give_up: Callable[[], bool]) -> bool:
        """Wait until every record of `topic` with a timestamp below `before_ms` is
        handled; False if `give_up()` first. (Records without a timestamp — none since
        Kafka 0.10 — are not waited for: two such records, one on each topic, would wait
        for each other.)"""
        consumer, admin = await self._clients()
        tp = TopicPartition(topic, 0)
        found = await consumer.offsets_for_times({tp: before_ms})
        if found.get(tp) is not None:
            target = found[tp].offset
        else:
            target = (await consumer.end_offsets([tp]))[tp]
        waited, pause = 0.0, 0.02
        while self.handled.get(topic, 0) < target:
            committed = await admin.list_consumer_group_offsets(self.settings.worker_id, partitions=[tp])
            mark = committed.get(tp)
            if mark is not None and mark.offset >= target:
                return True
            if give_up():
                return False
            if waited >= REPORT_AFTER and waited - pause < REPORT_AFTER:
                log.info("waiting for the records written before this one", topic=topic, offset=target)
            await asyncio.sleep(pause)
            waited += pause
            pause = min(pause * 2, POLL_MAX)
        return True
