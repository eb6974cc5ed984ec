"""The directory in the worker's memory, following `hub.directory.v1` while it runs.

Every worker process keeps the whole directory in memory (it is small) and reads the
compacted topic from the beginning with a plain consumer (no consumer group, so every
worker sees every record). Records are applied in offset order; whenever a
`meta:version` record has been read the index is rebuilt with
`hub.directory.from_entries`, which refuses a version that is not complete yet (the
loader writes `meta:version` last; a reader that sees a half-published version keeps the
previous one and waits for the rest).

It is a `follow.TopicFollower`: started before the Faust app, read up to its end offset
before the first evaluation. With no directory ever loaded the index is empty: every
case goes to HORS_TERRITOIRE (a warning says so) until one is loaded.

`wait_position(offset)` lets the person agent, when it processes the DIRECTORY message of
a `meta:version` record, wait until this reader has gone past that record, so that it
re-routes with a directory at least that new (bounded: it goes on with what it has
after the timeout, a later message re-routes again).
"""

from __future__ import annotations

import json

from hub.directory import DirectoryData, DirectoryError, DirectoryIndex, from_entries
from hub.directory.lookup import META_KEY
from hub.kafka.topics import DIRECTORY
from hub.logging import get_logger
from hub.settings import Settings
from hub.worker.follow import TopicFollower

log = get_logger("hub.worker.directory")


def empty_directory() -> DirectoryIndex:
    return DirectoryIndex(DirectoryData())


class DirectoryFollower(TopicFollower):
    """Background reader of hub.directory.v1 (see module doc)."""

    topic = DIRECTORY
    late = "directory reader late; re-routing with the directory it has"

    def __init__(self, settings: Settings, **kwargs) -> None:
        super().__init__(settings, **kwargs)
        self.index: DirectoryIndex = empty_directory()
        self.version: str = self.index.version
        self._latest: dict[str, dict] = {}
        self._meta_seen = False

    def current(self) -> tuple[DirectoryIndex, str]:
        return self.index, self.version

    def on_caught_up(self) -> None:
        if not self._meta_seen:
            log.warning("no directory on hub.directory.v1 yet: cases go to HORS_TERRITOIRE until one is loaded")

    def apply(self, records) -> None:
        rebuild = False
        for record in records:
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
        if rebuild:
            self._rebuild()

    def _rebuild(self) -> None:
        try:
            index = from_entries(self._latest.items())
        except DirectoryError as exc:
            log.warning("directory version incomplete or invalid, keeping the previous one", reason=str(exc)[:200])
            return
        if index.version != self.version:
            self.index, self.version = index, index.version
            log.info("directory loaded", version=index.version[:19], observatoires=len(index.observatoires))
