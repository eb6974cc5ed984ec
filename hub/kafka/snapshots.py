"""Connector state on Kafka: the last SIECLE snapshot seen per establishment (UAJ).

Kept in the compacted topic `hub.connectors.snapshots.v1`, so that a connector run on
another machine after a crash diffs against the right previous snapshot.

Format 3 (streamed, any size): the pupils, in ELEVE_ID order, one JSON array a line —
`[id, false, ine, nom, prenom, date_naissance, commune]` for a pupil present in the
newest export, `[id, true, exited_on]` for a pupil whose exit was already derived (kept
compact, and forgotten 25 months after the exit: see connectors/rectorat), `[id, false]`
for a pupil listed there whose record was refused, never accepted at this UAJ (written
since 2026-12-07) — as one zlib
stream cut into chunks of at most `CHUNK` bytes (`<UAJ>#<version>#<n>`, far below the
topic's 16 MiB message limit); the manifest (`<UAJ>`) is written last and names the version, the
chunk count, the stream's sha256, the as-of and the pupil count, so a crash between
chunks leaves the previous manifest, hence the previous snapshot, valid. The version is
a fresh random id, so new chunks never overwrite those the current manifest names; the
old chunks are tombstoned once the new manifest is written. Saving streams the pupils
(a snapshot may be millions of pupils, kept on local disk by the connector); loading
streams the chunks back, decompressing as it goes, into memory for a usual
establishment or into a scratch RocksDB above `MEMORY_LIMIT` pupils.

Reading the topic keeps only the manifests and the offsets of the chunks, never their
bytes, so memory does not grow with the state of every establishment.

Format 2 (as format 3, but an exited pupil as `[id, true, ine, nom, …]`, no exit date;
such a pupil is read as exited at the snapshot's as-of) and format 1 (one JSON document
per UAJ, chunked) are still read.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from aiokafka import TopicPartition

from connectors.core.types import PupilState, Snapshot
from hub.kafka import client
from hub.kafka.compacted import read_until_end
from hub.kafka.topics import SNAPSHOTS
from hub.settings import Settings, get_settings

CHUNK = 4 * 1024 * 1024
FORMAT = 3


def _line(eleve_id: str, s: PupilState) -> bytes:
    return (json.dumps([eleve_id, *s.to_list()], ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class _Lines:
    """The lines of a zlib stream fed as compressed pieces (blank lines skipped)."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj()
        self._rest = b""

    def feed(self, piece: bytes) -> list[bytes]:
        *lines, self._rest = (self._rest + self._inflate.decompress(piece)).split(b"\n")
        return [line for line in lines if line]

    def end(self) -> list[bytes]:
        rest = self._rest + self._inflate.flush()
        self._rest = b""
        return [line for line in rest.split(b"\n") if line]


class KafkaSnapshotStore:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._manifests: dict[bytes, bytes] | None = None
        self._offsets: dict[bytes, int] = {}  # chunk key → offset (single partition topic)
        self._scratch = None

    # -- reading ---------------------------------------------------------------------

    async def _load(self) -> dict[bytes, bytes]:
        if self._manifests is None:
            manifests: dict[bytes, bytes] = {}
            offsets: dict[bytes, int] = {}
            async for record in read_until_end(SNAPSHOTS, self.settings):
                key = record.key
                table = offsets if b"#" in key else manifests
                if record.value is None:
                    table.pop(key, None)
                else:
                    table[key] = record.offset if table is offsets else record.value
            self._manifests, self._offsets = manifests, offsets
        return self._manifests

    async def _chunks(self, uaj: str, meta: dict[str, Any]) -> AsyncIterator[bytes]:
        """The chunks of one version in order, fetched by offset one fetch at a time, so
        that loading a snapshot of millions of pupils never holds it whole (RuntimeError
        when one is missing)."""
        keys = [f"{uaj}#{meta['version']}#{i}".encode() for i in range(meta["chunks"])]
        if not all(k in self._offsets for k in keys):
            raise RuntimeError(f"snapshot of {uaj} is incomplete on {SNAPSHOTS}")
        offsets = [self._offsets[k] for k in keys]
        if offsets != sorted(offsets):  # one producer writes a version's chunks in order
            raise RuntimeError(f"snapshot of {uaj} is corrupt on {SNAPSHOTS}")
        consumer = await client.started(
            client.consumer(settings=self.settings, max_partition_fetch_bytes=CHUNK + 1024 * 1024)
        )
        try:
            tp = TopicPartition(SNAPSHOTS, 0)
            consumer.assign([tp])
            consumer.seek(tp, offsets[0])
            n = 0
            while n < len(keys):
                batches = await consumer.getmany(tp, timeout_ms=2000, max_records=4)
                for record in batches.get(tp, []):
                    if n < len(keys) and record.offset == offsets[n]:
                        if record.key != keys[n] or record.value is None:
                            raise RuntimeError(f"snapshot of {uaj} is incomplete on {SNAPSHOTS}")
                        n += 1
                        yield record.value
                if n < len(keys) and await consumer.position(tp) > offsets[n]:
                    raise RuntimeError(f"snapshot of {uaj} is incomplete on {SNAPSHOTS}")
        finally:
            await client.stop_consumer(consumer)

    async def previous(self, uaj: str) -> Snapshot | None:
        manifests = await self._load()
        manifest = manifests.get(uaj.encode())
        if manifest is None:
            return None
        meta = json.loads(manifest)
        digest = hashlib.sha256()
        if meta.get("format", 1) == 1:  # one JSON document: small by construction
            chunks = []
            async for chunk in self._chunks(uaj, meta):
                digest.update(chunk)
                chunks.append(chunk)
            self._check(uaj, meta, digest)
            return Snapshot.from_json(json.loads(zlib.decompress(b"".join(chunks))))
        from connectors.rectorat.state import MEMORY_LIMIT, Scratch

        if meta["pupils"] > MEMORY_LIMIT:
            if self._scratch is None:
                self._scratch = Scratch()
            pupils = self._scratch.pupils()
            put = pupils.put_new
        else:
            pupils = {}
            put = pupils.__setitem__
        as_of = date.fromisoformat(meta["as_of"])
        from_list = PupilState.from_list

        def put_all(lines: list[bytes]) -> None:
            for line in lines:
                v = json.loads(line)
                put(v[0], from_list(v[1:], as_of))

        # Decoded as the chunks arrive; the table is only returned once the whole
        # stream's digest matches the manifest's.
        lines = _Lines()
        try:
            async for chunk in self._chunks(uaj, meta):
                digest.update(chunk)
                put_all(lines.feed(chunk))
            self._check(uaj, meta, digest)
            put_all(lines.end())
        except (zlib.error, ValueError, TypeError, IndexError) as exc:
            raise RuntimeError(f"snapshot of {uaj} is corrupt on {SNAPSHOTS} ({exc.__class__.__name__})") from None
        return Snapshot(uaj=uaj, as_of=as_of, pupils=pupils)

    @staticmethod
    def _check(uaj: str, meta: dict[str, Any], digest: Any) -> None:
        if digest.hexdigest() != meta["sha256"]:
            raise RuntimeError(f"snapshot of {uaj} is corrupt on {SNAPSHOTS}")

    # -- writing ---------------------------------------------------------------------

    async def save(self, snapshot: Snapshot) -> None:
        uaj = snapshot.uaj
        manifests = await self._load()
        old = manifests.get(uaj.encode())
        version = uuid.uuid4().hex[:12]
        digest = hashlib.sha256()
        deflate = zlib.compressobj(6)
        producer = await client.started(
            client.producer(self.settings, max_request_size=CHUNK + 1024 * 1024, linger_ms=0)
        )
        sent: list[int] = []  # chunk numbers
        count = 0
        try:
            pending = bytearray()

            async def emit(final: bool) -> None:
                while len(pending) >= CHUNK or (final and (pending or not sent)):
                    piece = bytes(pending[:CHUNK])
                    del pending[:CHUNK]
                    digest.update(piece)
                    key = f"{uaj}#{version}#{len(sent)}".encode()
                    await producer.send(SNAPSHOTS, piece, key=key)
                    sent.append(len(sent))
                    if not pending:
                        break

            pupils = snapshot.pupils
            items = pupils.items() if not isinstance(pupils, dict) else sorted(pupils.items())
            buf: list[bytes] = []
            for eleve_id, state in items:
                buf.append(_line(eleve_id, state))
                count += 1
                if len(buf) >= 1000:
                    pending += deflate.compress(b"".join(buf))
                    buf = []
                    if len(pending) >= CHUNK:
                        await emit(False)
            pending += deflate.compress(b"".join(buf))
            pending += deflate.flush()
            await emit(True)
            meta = {"format": FORMAT, "version": version, "chunks": len(sent), "sha256": digest.hexdigest(),
                    "as_of": snapshot.as_of.isoformat(), "pupils": count}
            await producer.flush()
            await producer.send_and_wait(SNAPSHOTS, json.dumps(meta).encode(), key=uaj.encode())
            if old is not None:
                previous = json.loads(old)
                for i in range(previous["chunks"]):
                    key = f"{uaj}#{previous['version']}#{i}".encode()
                    await producer.send(SNAPSHOTS, None, key=key)
                    self._offsets.pop(key, None)
            await producer.flush()
        finally:
            await producer.stop()
        # This store's view: the new manifest (its chunks are fetched by offset only after
        # a reload; a later `previous` of the same UAJ in this process re-reads the topic).
        manifests[uaj.encode()] = json.dumps(meta).encode()
        self._manifests = None

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
