"""A one-partition topic read from its beginning while the worker runs.

Every worker process keeps some small compacted topics in memory: the directory
(`directory.py`) and the schemas (`schemas.py`). Each is read with a plain consumer (no
consumer group, so every worker sees every record), in offset order. It starts before
the Faust app (it is a service of the Faust worker) and its start returns only once the
topic has been read up to its end offset: the first evaluation already sees what was
published before the worker started.

`wait_position(offset)` lets an agent wait until the reader has gone past a record it
knows of (bounded: after the timeout it goes on with what it has); `catch_up()` waits
for everything published up to now.
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from mode import Service

from hub.kafka import client
from hub.logging import get_logger
from hub.settings import Settings

log = get_logger("hub.worker.follow")


class TopicFollower(Service):
    """Background reader of `topic` (partition 0); subclasses `apply` its records."""

    topic: str = ""
    poll_ms = 500
    #: What the warning of a late reader says (`wait_position`).
    late = "reader late; going on with what it has"

    def __init__(self, settings: Settings, **kwargs) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.position = 0  # next offset to read
        self._changed = asyncio.Event()
        self._consumer = None
        self._tp = TopicPartition(self.topic, 0)

    def apply(self, records) -> None:
        """One fetched batch of records, in offset order."""
        raise NotImplementedError

    def on_caught_up(self) -> None:
        """Called once the topic has been read to its end at start."""

    async def on_start(self) -> None:
        self._consumer = client.consumer(settings=self.settings, enable_auto_commit=False, group_id=None)
        await self._consumer.start()
        self._consumer.assign([self._tp])
        await self._consumer.seek_to_beginning(self._tp)
        end = (await self._consumer.end_offsets([self._tp]))[self._tp]
        while self.position < end:
            await self._poll()
        self.on_caught_up()

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    @Service.task
    async def _follow(self) -> None:
        while not self.should_stop:
            await self._poll()

    async def _poll(self) -> None:
        batches = await self._consumer.getmany(self._tp, timeout_ms=self.poll_ms)
        self.apply(batches.get(self._tp, ()))
        self.position = await self._consumer.position(self._tp)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_position(self, position: int, timeout: float = 60.0) -> bool:
        """Wait until the records before `position` have been applied (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.position < position:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning(self.late, topic=self.topic, wanted=position, at=self.position)
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return True

    async def catch_up(self, timeout: float = 60.0) -> bool:
        """Wait until everything published on the topic up to now has been applied."""
        end = (await self._consumer.end_offsets([self._tp]))[self._tp]
        return await self.wait_position(end, timeout)
