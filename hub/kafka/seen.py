"""Which event ids are already on a topic: what makes a re-ingest `unchanged`.

The truth is the topic itself: every event message carries its id in the `event_id`
header, so the ids are read without decoding bodies. They are kept in a local RocksDB
(rocksdict) under `HUB_HOME/connectors/`, with the offsets read up to, so the next run
reads only what is new, and memory stays bounded however many events the topic holds
(a set in memory would grow by ≈ 100 bytes an event). Losing the store costs one full
read, never a duplicate. The store is bound to the cluster id and dropped when the topic
went backwards (a new broker on the same port), so a stale store can never make a new
fact look `unchanged`. When another process holds the store (`hub serve`, which keeps
it open, or a `hub dlq list`; two ingests of one source take turns, `hub/locks.py`),
this run reads the topic into a temporary store instead.

Ids added during a run (`add`) stay in memory until `durable()` — called by the runner
once the sink has flushed, i.e. the broker acknowledged them — and only then go to the
store: an id is never recorded as published before it is on Kafka. The runner flushes
every `FLUSH_EVERY` new events, which bounds that memory too.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from aiokafka import TopicPartition

from hub.bloom import Bloom
from hub.kafka import client
from hub.rocks import open_bounded
from hub.settings import Settings, get_settings

EVENT_ID_HEADER = "event_id"
_META = b"\x00meta"
# The in-memory filter stops growing at 2**26 bits (8 MiB, ≥ 16 bits an id up to ≈ 4M
# ids), so that a topic's history does not weigh on every ingest's memory: past that its
# false positives rise and are answered by the store (RocksDB's own filter, then a read).
BLOOM_MIN_LOG2, BLOOM_MAX_LOG2 = 23, 26
CACHE_BYTES = 8 << 20  # the store's block cache: data, index and filter blocks


def _id_bytes(event_id: str) -> bytes:
    # "e-" + 32 hex chars → 16 bytes: a third of the size of the string.
    return bytes.fromhex(event_id[2:]) if event_id.startswith("e-") else event_id.encode()


def _open(path: Path):
    # Bounded like the SIECLE scratch (hub.rocks): the store holds every id a topic ever
    # had, so RocksDB's default (whole index and filter blocks of every table file in
    # memory) grew with the topic's history. A lost write only costs re-reading the topic.
    return open_bounded(path, cache_bytes=CACHE_BYTES, write_buffer_bytes=16 << 20)


class KafkaSeenEvents:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._db = None
        self._path: Path | None = None
        self._temporary = False
        self._pending: set[bytes] = set()
        self._bloom = Bloom(0, min_log2=BLOOM_MIN_LOG2)
        self._offsets: dict[tuple[str, int], int] = {}  # read up to, per partition
        self._tps: list[TopicPartition] = []
        self._consumer = None  # kept open by load(follow=True)

    async def load(self, topics: list[str] | tuple[str, ...], *, follow: bool = False) -> None:
        """Read the ids of `topics` up to their current end. With `follow`, keep a
        consumer open for `catch_up` (a long-lived process: `hub serve`)."""
        admin = client.admin(self.settings)
        await client.started(admin)
        try:
            cluster = (await admin.describe_cluster())["cluster_id"]
        finally:
            await admin.close()
        await self.aclose()
        self._path = self.settings.home / "connectors" / f"seen-{cluster}-{'+'.join(sorted(topics))}.rdb"
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = _open(self._path)
            self._temporary = False
        except Exception:  # noqa: BLE001 — locked by another process (or unreadable): read the topic afresh
            self._path = Path(tempfile.mkdtemp(prefix="hub-seen-"))
            self._db = _open(self._path)
            self._temporary = True
        raw = self._db.get(_META)
        self._offsets = {(t, int(p)): o for t, p, o in json.loads(raw)["offsets"]} if raw is not None else {}

        consumer = await client.started(client.consumer(settings=self.settings, max_poll_records=20000))
        try:
            self._tps = [TopicPartition(t, p) for t in topics for p in await client.topic_partitions(consumer, t)]
            if self._tps:
                consumer.assign(self._tps)
                await self._read_to_end(consumer, into_bloom=False)
                if follow:
                    self._consumer = consumer
        finally:
            if self._consumer is not consumer:
                await client.stop_consumer(consumer)
            self._fill_bloom()

    async def catch_up(self) -> None:
        """Read the ids written to the topics since the last read (by other processes:
        a file ingest while `hub serve` runs). Needs `load(..., follow=True)`."""
        if self._consumer is not None:
            await self._read_to_end(self._consumer, into_bloom=True)

    async def _read_to_end(self, consumer, *, into_bloom: bool) -> None:
        from rocksdict import WriteBatch

        tps = self._tps
        ends = await consumer.end_offsets(tps)
        if any(self._offsets.get((tp.topic, tp.partition), 0) > ends[tp] for tp in tps):
            # The topic went backwards (a new broker on the same port): start afresh.
            self._reset()
            self._offsets = {}
            self._bloom = Bloom(0, min_log2=BLOOM_MIN_LOG2)
            into_bloom = True
        todo = {tp for tp in tps if self._offsets.get((tp.topic, tp.partition), 0) < ends[tp]}
        if not todo:
            return
        begins = await consumer.beginning_offsets(list(todo))
        db = self._db
        for tp in todo:
            consumer.seek(tp, max(self._offsets.get((tp.topic, tp.partition), 0), begins[tp]))
        pending = {tp for tp in todo if await consumer.position(tp) < ends[tp]}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            batch = WriteBatch(raw_mode=True)
            for records in batches.values():
                for record in records:
                    for name, value in record.headers:
                        if name == EVENT_ID_HEADER:
                            key = _id_bytes(value.decode())
                            batch.put(key, b"")
                            if into_bloom:
                                self._bloom.add(key)
            db.write(batch)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        self._offsets.update({(tp.topic, tp.partition): ends[tp] for tp in todo})
        db[_META] = json.dumps({"offsets": [[t, p, o] for (t, p), o in self._offsets.items()]}).encode()
        db.flush()

    def _fill_bloom(self) -> None:
        """Every id of the store in the Bloom filter, sized for them and as many more
        (up to BLOOM_MAX_LOG2 bits)."""
        if self._db is None:
            return
        count = sum(1 for _ in self._db.keys())
        bloom = Bloom(2 * count + 1_000_000, min_log2=BLOOM_MIN_LOG2, max_log2=BLOOM_MAX_LOG2)
        for k in self._db.keys():
            bloom.add(k)
        self._bloom = bloom

    def _reset(self) -> None:
        assert self._path is not None
        self._db.close()
        shutil.rmtree(self._path, ignore_errors=True)
        self._db = _open(self._path)

    def contains(self, event_id: str) -> bool:
        key = _id_bytes(event_id)
        if key not in self._bloom:
            return False
        return key in self._pending or (self._db is not None and self._db.get(key) is not None)

    def add(self, event_id: str) -> None:
        key = _id_bytes(event_id)
        self._pending.add(key)
        self._bloom.add(key)

    def durable(self) -> None:
        """The ids added so far are acknowledged by the broker: record them."""
        if self._pending and self._db is not None:
            from rocksdict import WriteBatch

            batch = WriteBatch(raw_mode=True)
            for key in self._pending:
                batch.put(key, b"")
            self._db.write(batch)
        self._pending = set()

    async def aclose(self) -> None:
        """`close`, and stop the consumer `load(follow=True)` kept."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await client.stop_consumer(consumer)
        self.close()

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.flush()
            finally:
                self._db.close()
                self._db = None
        if self._temporary and self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
        self._temporary = False
