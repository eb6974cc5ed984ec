"""In-memory Sink, SeenEvents and SnapshotStore — for unit tests only (no durability)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import date
from typing import Any

from connectors.core.types import Event, Snapshot


class MemorySink:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, Event]] = []  # (topic, key, event)
        self.dead_letters: list[tuple[str, dict[str, Any]]] = []
        self.watermarks: dict[str, date] = {}
        self.watermark_calls: list[tuple[str, date]] = []
        self.flushes = 0

    async def publish(self, topic: str, key: str, event: Event) -> None:
        self.published.append((topic, key, event))

    async def dead_letter(self, topic: str, record: dict[str, Any]) -> None:
        self.dead_letters.append((topic, record))

    async def watermark(self, source: str, as_of: date) -> None:
        self.watermark_calls.append((source, as_of))
        if source not in self.watermarks or as_of > self.watermarks[source]:
            self.watermarks[source] = as_of

    async def flush(self) -> None:
        self.flushes += 1

    @property
    def events(self) -> list[Event]:
        return [e for _, _, e in self.published]


class MemorySeenEvents:
    """Event ids "already on Kafka"; reuse one instance across runs to simulate re-ingests."""

    def __init__(self, ids: Sequence[str] = ()) -> None:
        self.ids: set[str] = set(ids)
        self.loaded: list[list[str]] = []

    async def load(self, topics: Sequence[str]) -> None:
        self.loaded.append(list(topics))

    def contains(self, event_id: str) -> bool:
        return event_id in self.ids

    def add(self, event_id: str) -> None:
        self.ids.add(event_id)


class MemorySnapshotStore:
    def __init__(self) -> None:
        self.snapshots: dict[str, dict[str, Any]] = {}  # uaj → JSON form (as a topic would hold)
        self.saves = 0

    async def previous(self, uaj: str) -> Snapshot | None:
        doc = self.snapshots.get(uaj)
        return Snapshot.from_json(copy.deepcopy(doc)) if doc is not None else None

    async def save(self, snapshot: Snapshot) -> None:
        self.snapshots[snapshot.uaj] = snapshot.to_json()
        self.saves += 1
