"""The directory on Kafka: publish a new version on `hub.directory.v1`, read it back.

A new version replaces the old one everywhere: its entries are written, keys of the old
version that are gone get a tombstone, and `meta:version` (the list of keys and a
content hash) is written last, so that a reader never takes a half-written version.
"""

from __future__ import annotations

import json

from hub.directory import DirectoryData, DirectoryIndex, from_entries, to_entries
from hub.directory.lookup import META_KEY
from hub.kafka import client
from hub.kafka.compacted import read_table
from hub.kafka.topics import DIRECTORY
from hub.settings import Settings


def _decode(table: dict[bytes, bytes]) -> list[tuple[str, dict]]:
    # Offset order matters only for the meta entry, which from_entries reads by key.
    return [(k.decode(), json.loads(v)) for k, v in table.items()]


async def read_directory(settings: Settings | None = None) -> DirectoryIndex | None:
    """The current directory, or None when none was ever loaded."""
    table = await read_table(DIRECTORY, settings)
    if META_KEY.encode() not in table:
        return None
    return from_entries(_decode(table))


async def publish_directory(data: DirectoryData, settings: Settings | None = None) -> dict:
    """Publish `data` as the new version; returns {"version", "written", "removed", "unchanged"}."""
    current = await read_table(DIRECTORY, settings)
    entries = to_entries(data)
    new_keys = {key for key, _ in entries}
    producer = await client.started(client.producer(settings))
    written = unchanged = 0
    try:
        for key, value in entries:
            if key == META_KEY:
                continue
            payload = json.dumps(value, sort_keys=True, ensure_ascii=False).encode()
            if current.get(key.encode()) == payload:
                unchanged += 1
                continue
            await producer.send(DIRECTORY, payload, key=key.encode())
            written += 1
        removed = [k for k in current if k.decode() not in new_keys]
        for key in removed:
            await producer.send(DIRECTORY, None, key=key)
        meta = dict(entries)[META_KEY]
        await producer.send_and_wait(DIRECTORY, json.dumps(meta, sort_keys=True).encode(), key=META_KEY.encode())
    finally:
        await producer.stop()
    return {"version": meta["hash"], "written": written, "removed": len(removed), "unchanged": unchanged}
