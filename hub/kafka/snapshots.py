"""Connector state on Kafka: the last SIECLE snapshot seen per establishment (UAJ).

Kept in the compacted topic `hub.connectors.snapshots.v1`, so that a connector run on
another machine after a crash diffs against the right previous snapshot. A snapshot is
JSON, zlib-compressed and cut into chunks (`<UAJ>#<n>`) below the broker's message
limit; the manifest (`<UAJ>`) is written last and names the chunks and their digest, so
a crash between chunks leaves the previous manifest, hence the previous snapshot, valid.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

from connectors.core.types import Snapshot
from hub.kafka import client
from hub.kafka.compacted import read_table
from hub.kafka.topics import SNAPSHOTS
from hub.settings import Settings, get_settings

CHUNK = 4 * 1024 * 1024


class KafkaSnapshotStore:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._table: dict[bytes, bytes] | None = None

    async def _load(self) -> dict[bytes, bytes]:
        if self._table is None:
            self._table = await read_table(SNAPSHOTS, self.settings)
        return self._table

    async def previous(self, uaj: str) -> Snapshot | None:
        doc = await self.previous_json(uaj)
        return Snapshot.from_json(doc) if doc is not None else None

    async def save(self, snapshot: Snapshot) -> None:
        await self.save_json(snapshot.uaj, snapshot.to_json())

    async def previous_json(self, uaj: str) -> dict[str, Any] | None:
        table = await self._load()
        manifest = table.get(uaj.encode())
        if manifest is None:
            return None
        meta = json.loads(manifest)
        blob = b"".join(table.get(f"{uaj}#{meta['version']}#{i}".encode(), b"") for i in range(meta["chunks"]))
        if hashlib.sha256(blob).hexdigest() != meta["sha256"]:
            raise RuntimeError(f"snapshot of {uaj} is incomplete on {SNAPSHOTS}")
        return json.loads(zlib.decompress(blob))

    async def save_json(self, uaj: str, snapshot: dict[str, Any]) -> None:
        blob = zlib.compress(json.dumps(snapshot, separators=(",", ":"), sort_keys=True).encode(), 6)
        digest = hashlib.sha256(blob).hexdigest()
        # Chunk keys carry the digest prefix: new chunks never overwrite the ones the
        # current manifest points to.
        version = digest[:12]
        chunks = [blob[i : i + CHUNK] for i in range(0, len(blob), CHUNK)] or [b""]
        table = await self._load()
        old = table.get(uaj.encode())
        producer = client.producer(self.settings, max_request_size=CHUNK + 1024 * 1024)
        await producer.start()
        try:
            for i, chunk in enumerate(chunks):
                await producer.send(SNAPSHOTS, chunk, key=f"{uaj}#{version}#{i}".encode())
            meta = {"version": version, "chunks": len(chunks), "sha256": digest}
            await producer.send_and_wait(SNAPSHOTS, json.dumps(meta).encode(), key=uaj.encode())
            if old is not None:
                previous = json.loads(old)
                if previous["version"] != version:
                    for i in range(previous["chunks"]):
                        await producer.send(SNAPSHOTS, None, key=f"{uaj}#{previous['version']}#{i}".encode())
            await producer.flush()
        finally:
            await producer.stop()
        for i, chunk in enumerate(chunks):
            table[f"{uaj}#{version}#{i}".encode()] = chunk
        table[uaj.encode()] = json.dumps(meta).encode()
