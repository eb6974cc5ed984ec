"""The directory in the worker's memory, following `hub.directory.v1` while it runs.

Every worker process keeps the whole directory in memory (it is small) and reads the
compacted topic from the beginning with a plain consumer (no consumer group, so every
worker sees every record). Records are applied in offset order; whenever a
`meta:version` record has been read the index is rebuilt with
`hub.directory.from_entries`, which refuses a version that is not complete yet (the
loader writes `meta:version` last; a reader that sees a half-published version keeps the
previous one and waits for the rest).

It starts before the Faust app (it is a service of the Faust worker), and its start
returns only once the topic has been read up to its end offset: the first evaluation
already sees the directory that was published before the worker started. With no
directory ever loaded the index is empty: every case goes to HORS_TERRITOIRE (a warning
says so) until one is loaded.

`wait_position(offset)` lets the person agent, when it processes the DIRECTORY message of
a `meta:version` record, wait until this reader has gone past that record, so that it
re-routes with a directory at least that new (bounded: it goes on with what it has
after the timeout, a later message re-routes again).
"""

from __future__ import annotations

import asyncio
import json

from aiokafka import TopicPartition
from mode import Service

from hub.directory import DirectoryData, DirectoryError, DirectoryIndex, from_entries
from hub.directory.lookup import META_KEY
from hub.kafka import client
from hub.kafka.topics import DIRECTORY
from hub.logging import get_logger
from hub.settings import Settings

log = get_logger("hub.worker.directory")


def empty_directory() -> DirectoryIndex:
    return DirectoryIndex(DirectoryData())


class DirectoryFollower(Service):
    """Background reader of hub.directory.v1 (see module doc)."""

    poll_ms = 500

    def __init__(self, settings: Settings, **kwargs) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.index: DirectoryIndex = empty_directory()
        self.version: str = self.index.version
        self.position = 0  # next offset to read
        self._latest: dict[str, dict] = {}
        self._meta_seen = False
        self._changed = asyncio.Event()
        self._consumer = None
        self._tp = TopicPartition(DIRECTORY, 0)

    def current(self) -> tuple[DirectoryIndex, str]:
        return self.index, self.version

    async def on_start(self) -> None:
        self._consumer = client.consumer(settings=self.settings, enable_auto_commit=False, group_id=None)
        await self._consumer.start()
        self._consumer.assign([self._tp])
        await self._consumer.seek_to_beginning(self._tp)
        end = (await self._consumer.end_offsets([self._tp]))[self._tp]
        while self.position < end:
            await self._poll()
        if not self._meta_seen:
            log.warning("no directory on hub.directory.v1 yet: cases go to HORS_TERRITOIRE until one is loaded")

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
        rebuild = False
        for record in batches.get(self._tp, ()):
            key = record.key.decode() if record.key is not None else ""
            if record.value is None:
                self._latest.pop(key, None)
            else:
                try:
                    self._latest[key] = json.loads(record.value)
                except ValueError:
                    log.warning("unreadable directory record skipped", offset=record.offset)
            if key == META_KEY:
                rebuild = True
                self._meta_seen = True
        self.position = await self._consumer.position(self._tp)
        if rebuild:
            self._rebuild()
        self._changed.set()
        self._changed = asyncio.Event()

    def _rebuild(self) -> None:
        try:
            index = from_entries(self._latest.items())
        except DirectoryError as exc:
            log.warning("directory version incomplete or invalid, keeping the previous one", reason=str(exc)[:200])
            return
        if index.version != self.version:
            self.index, self.version = index, index.version
            log.info("directory loaded", version=index.version[:19], observatoires=len(index.observatoires))

    async def wait_position(self, position: int, timeout: float = 60.0) -> bool:
        """Wait until the records before `position` have been applied (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.position < position:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning("directory reader late; re-routing with the directory it has", wanted=position, at=self.position)
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return True
