"""The engine's state: tables kept and restored by the engine itself.

Each table (`persons`: N partitions, co-partitioned with the person topics; `clock`: one)
is a changelog topic and, on the worker's disk, one RocksDB database per partition that
always holds a prefix of that changelog: the records up to the offset it records, and
perhaps some after it (`PartitionStore`).

Before an agent reads or writes a partition in a consumer generation, the partition is
*restored* (`Tables.ready`): the records from the offset its database records to the
changelog's end offset, read with a plain consumer (no group), every one in order, and
written in batches with their offset. A worker that owned the partition until now finds
nothing to read; one that takes it over reads what others wrote since it last had it;
a fresh one reads it all.

Why not Faust's tables, which did this until 2026-12-08: their recovery takes whatever
its fetch loop hands it for a changelog, and a jump there passes for a hole of
compaction. The churn audit of that day (`bench/churn.py`, a trace of every restore)
saw a worker restore partitions with hundreds of records missing, three ways — a fetch
made before the recovery's seek and handed over after it, the rest of a fetch Faust's
getmany dropped when the flow stopped, a hand-over pending across a rebalance — and then
write states lacking a person's earlier events or the partition's clock: cases lost,
left open, or different from a lone worker's. Here a restore is one loop that cannot
skip: it reads until its position reaches the end offset taken when it began, and every
record below that offset the broker still holds is applied.

**Fencing.** A worker frozen between its last membership check and its producer's send
(`fence` in app.py) can still write after the group expelled it and a new owner restored
the partition. So every owner *claims* a partition after restoring it, once per
generation: it appends a marker (`EPOCH_KEY`) whose epoch — (one more than the
partition's highest epoch so far, the consumer generation) — is higher than any before,
and tags each record it writes with it (header `hub-epoch`). A restore skips a record
tagged with an epoch lower than the highest marker read before it: what a former owner
writes after the claim never reaches a state again. What it wrote between the new
owner's restore and its marker is read by the restore that follows the claim.

What it gives up: Faust's standby replicas (a worker taking over a partition reads it
from where its own database stops, not from a warm copy: ≈ 1 s per 100,000 records here)
and Faust's table API (the engine wrote around it already, see `PartitionStore`). The
changelog topics keep Faust's names and are created by `hub.kafka.topics.worker_topics`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiokafka import TopicPartition
from mode import Service
from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch

from hub.kafka import client
from hub.kafka.topics import CLOCK_TABLE, PERSONS_TABLE, changelog_topic_name
from hub.logging import get_logger
from hub.settings import Settings

log = get_logger("hub.worker.tables")

#: The key of the offset a partition's database records, and that of the partition's
#: claim (never person keys: those do not start with two underscores and a NUL).
OFFSET_KEY = b"__\x00offset__"
EPOCH_KEY = b"__\x00epoch__"  # a claim's marker on the changelog
CLAIM_KEY = b"__\x00claim__"  # in the database: the latest claim up to the recorded offset
EPOCH_HEADER = "hub-epoch"
# Every partition has a database of its own; the values are small and the whole worker
# must stay under 500 MB with a million persons (bench/engine.py). Faust's defaults (64 MB
# write buffers x3, 2 GB block cache per partition) are sized for big servers.
WRITE_BUFFER = 8 * 1024 * 1024
WRITE_BUFFERS = 2
BLOCK_CACHE = 16 * 1024 * 1024


def parse_epoch(raw: bytes | None) -> tuple[int, int] | None:
    """An epoch as written ("counter:generation"); None when absent or unreadable."""
    if not raw:
        return None
    counter, _, generation = raw.decode("ascii", "replace").partition(":")
    try:
        return int(counter), int(generation)
    except ValueError:
        return None


def header(record, name: str) -> bytes | None:
    for key, value in record.headers or ():
        if key == name:
            return value
    return None


class PartitionStore:
    """One partition of a table as a `core.Store`.

    The partition's RocksDB database always holds a prefix of its changelog: the records
    up to the offset it records, and perhaps some after it. A restore reads from that
    offset on, nothing before it again. So writes are kept (the last value per key; reads
    see them first) until `Engine.persist` has their changelog records on the broker;
    only then `write` puts them in RocksDB, in one `WriteBatch` (one WAL write, the batch
    lands whole or not at all) with the offset of the last record — recorded only if the
    records directly follow the recorded one. Otherwise another worker wrote this
    partition meanwhile (it owned it for a while, or still believed it did): its records
    are not in this database, so the recorded offset stays, and the next restore reads
    from there, ours included. Both could fail before (found while looking for the churn
    audit's loss, README "Status"): with RocksDB written first, a worker killed between
    the two came back to the partition with state the changelog never got, took the
    records it read again for replays, and what they changed was lost to every later
    owner; an offset recorded past another worker's records made a later restore skip
    them.
    """

    __slots__ = ("db", "offset_key", "partition", "topic", "pending", "epoch")

    def __init__(self, db, offset_key: bytes, topic: str, partition: int, epoch: bytes | None = None) -> None:
        self.db = db  # the partition's rocksdict database, in raw mode
        self.offset_key = offset_key
        self.topic = topic  # the changelog topic
        self.partition = partition
        self.pending: dict[bytes, bytes | None] = {}  # writes not in RocksDB yet (None: delete)
        self.epoch = epoch  # this worker's claim on the partition (module doc, "Fencing")

    def headers(self) -> list[tuple[str, bytes]] | None:
        """The headers of this store's changelog records."""
        return [(EPOCH_HEADER, self.epoch)] if self.epoch is not None else None

    def get(self, key: str) -> bytes | None:
        k = key.encode()
        if k in self.pending:
            return self.pending[k]
        return self.db.get(k)

    def put(self, key: str, value: bytes) -> None:
        self.pending[key.encode()] = value

    def delete(self, key: str) -> None:
        self.pending[key.encode()] = None

    def recorded(self) -> int | None:
        """The changelog offset up to which this database holds every record."""
        raw = self.db.get(self.offset_key)
        return int(raw) if raw is not None else None

    def write(self, offsets: Sequence[int]) -> bool:
        """Write the pending writes, whose changelog records the broker has at `offsets`
        (in the order of `pending`), to RocksDB; False when the offset could not be
        recorded (the records do not follow the recorded one)."""
        batch = WriteBatch(raw_mode=True)
        claim = self.pending.pop(EPOCH_KEY, None)  # the marker: a claim, not a value
        for k, v in self.pending.items():
            if v is None:
                batch.delete(k)
            else:
                batch.put(k, v)
        recorded = self.recorded()
        follows = bool(offsets) and offsets[0] == (-1 if recorded is None else recorded) + 1 and all(
            b == a + 1 for a, b in zip(offsets, offsets[1:]))
        if follows:
            batch.put(self.offset_key, str(offsets[-1]).encode())
            if claim is not None:
                batch.put(CLAIM_KEY, claim)
        self.db.write(batch)
        self.pending = {}
        return follows

    def restore(self, records) -> int:
        """Apply changelog records read from the broker, in offset order, with the offset
        of the last (a tombstone deletes), but not those of a claim older than the latest
        (module doc, "Fencing"); the records skipped."""
        if not records:
            return 0
        batch = WriteBatch(raw_mode=True)
        current = parse_epoch(self.db.get(CLAIM_KEY))
        skipped = 0
        for r in records:
            if r.key == EPOCH_KEY:
                claim = parse_epoch(r.value)
                if claim is not None and (current is None or claim > current):
                    current = claim
                    batch.put(CLAIM_KEY, r.value)
                continue
            tag = parse_epoch(header(r, EPOCH_HEADER))
            if tag is not None and current is not None and tag < current:
                skipped += 1
            elif r.value is None:
                batch.delete(r.key)
            else:
                batch.put(r.key, r.value)
        batch.put(self.offset_key, str(records[-1].offset).encode())
        self.db.write(batch)
        return skipped

    def scan(self, start: str | None, stop: str | None):
        if self.pending:  # scans start ticks and directory updates, after a flush
            raise RuntimeError("scan of a partition with writes not persisted")
        stop_b = stop.encode() if stop is not None else None
        for k, v in self.db.items(from_key=start.encode() if start else None):
            if stop_b is not None and k >= stop_b:
                break
            if k != self.offset_key:
                yield k.decode(), v


def open_database(path: Path) -> Rdict:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(WRITE_BUFFER)
    options.set_max_write_buffer_number(WRITE_BUFFERS)
    table = BlockBasedOptions()
    table.set_block_cache(Cache(BLOCK_CACHE))
    options.set_block_based_table_factory(table)
    return Rdict(str(path), options=options)


class Tables(Service):
    """The worker's tables (see module doc): `ready` before use, then `store`."""

    def __init__(self, settings: Settings, datadir: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.datadir = datadir
        self.topics = {name: changelog_topic_name(settings, name) for name in (PERSONS_TABLE, CLOCK_TABLE)}
        self._dbs: dict[tuple[str, int], Rdict] = {}
        self._restored: dict[tuple[str, int], int | None] = {}  # the generation each was restored in
        self._epochs: dict[tuple[str, int], bytes] = {}  # this worker's claims
        self._lock = asyncio.Lock()  # one restore at a time: they share the reader
        self._reader = None

    def store(self, table: str, partition: int) -> PartitionStore:
        key = (table, partition)
        db = self._dbs.get(key)
        if db is None:
            self.datadir.mkdir(parents=True, exist_ok=True)
            db = self._dbs[key] = open_database(self.datadir / f"{table}-{partition}.rocksdb")
        return PartitionStore(db, OFFSET_KEY, self.topics[table], partition, self._epochs.get(key))

    async def ready(self, table: str, partition: int, generation: int | None,
                    persist: Callable[[PartitionStore], Awaitable[None]] | None = None) -> None:
        """Restore the partition once per consumer generation, before it is used, and
        claim it with `persist` (`Engine.persist`, see the module doc)."""
        key = (table, partition)
        if self._restored.get(key) == generation:
            return
        async with self._lock:
            if self._restored.get(key) != generation:
                await self.restore(table, partition)
                if persist is not None:
                    await self._claim(table, partition, generation or 0, persist)
                self._restored[key] = generation

    async def _claim(self, table: str, partition: int, generation: int, persist) -> None:
        store = self.store(table, partition)
        latest = parse_epoch(store.db.get(CLAIM_KEY))
        epoch = f"{(latest[0] if latest else 0) + 1}:{generation}".encode()
        store.epoch = epoch
        store.put(EPOCH_KEY.decode(), epoch)
        await persist(store)
        self._epochs[(table, partition)] = epoch
        # Records another worker wrote between the restore and the marker: read now.
        await self.restore(table, partition)

    async def restore(self, table: str, partition: int) -> int:
        """Read the partition's changelog from the offset its database records to the end
        offset it has now; the records applied."""
        store = self.store(table, partition)
        recorded = store.recorded()
        start = 0 if recorded is None else recorded + 1
        reader = await self._started_reader()
        tp = TopicPartition(store.topic, partition)
        reader.assign([tp])
        end = (await reader.end_offsets([tp]))[tp]
        if start >= end:
            return 0
        reader.seek(tp, start)
        began = time.monotonic()
        applied = 0
        skipped = 0
        while await reader.position(tp) < end:
            batch = (await reader.getmany(tp, timeout_ms=1000)).get(tp, ())
            records = [r for r in batch if r.offset < end]
            skipped += store.restore(records)
            applied += len(records)
        log.info("state restored", table=table, partition=partition, start=start, end=end, records=applied,
                 seconds=round(time.monotonic() - began, 2))
        if skipped:
            log.warning("records of a former owner written after its partition was claimed: skipped",
                        table=table, partition=partition, records=skipped)
        return applied

    async def _started_reader(self):
        if self._reader is None:
            reader = client.consumer(settings=self.settings, enable_auto_commit=False, group_id=None)
            await client.started(reader)
            self._reader = reader
        return self._reader

    async def on_stop(self) -> None:
        # The databases stay open until the process ends (an agent may still be finishing
        # a batch); what they hold is on disk already (RocksDB's log).
        if self._reader is not None:
            reader, self._reader = self._reader, None
            await reader.stop()
