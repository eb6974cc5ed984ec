"""Which event ids are already on a topic: what makes a re-ingest `unchanged`.

The truth is the topic itself: every event message carries its id in the `event_id`
header, so the ids are read without decoding bodies. A local cache (ids + the offsets
read up to, under HUB_HOME) makes the next run read only what is new; losing it costs
one full read, never a duplicate. The cache is bound to the cluster id and dropped when
the topic went backwards (a new broker on the same port), so a stale cache can never
make a new fact look `unchanged`.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiokafka import TopicPartition

from hub.kafka import client
from hub.settings import Settings, get_settings

EVENT_ID_HEADER = "event_id"


def _id_bytes(event_id: str) -> bytes:
    # "e-" + 32 hex chars → 16 bytes: a third of the memory of the string.
    return bytes.fromhex(event_id[2:]) if event_id.startswith("e-") else event_id.encode()


class KafkaSeenEvents:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._ids: set[bytes] = set()
        self._offsets: dict[tuple[str, int], int] = {}
        self._cache: Path | None = None

    async def load(self, topics: list[str] | tuple[str, ...]) -> None:
        admin = client.admin(self.settings)
        await admin.start()
        try:
            cluster = (await admin.describe_cluster())["cluster_id"]
        finally:
            await admin.close()
        self._cache = self.settings.home / "connectors" / f"seen-{cluster}-{'+'.join(sorted(topics))}.bin"
        self._read_cache()
        consumer = client.consumer(settings=self.settings, max_poll_records=20000)
        await consumer.start()
        try:
            tps = [TopicPartition(t, p) for t in topics for p in await client.topic_partitions(consumer, t)]
            if not tps:
                return
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            begins = await consumer.beginning_offsets(tps)
            if any(self._offsets.get((tp.topic, tp.partition), 0) > ends[tp] for tp in tps):
                self._offsets, self._ids = {}, set()
            pending = set()
            for tp in tps:
                start = max(self._offsets.get((tp.topic, tp.partition), 0), begins[tp])
                if start < ends[tp]:
                    consumer.seek(tp, start)
                    pending.add(tp)
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        for name, value in record.headers:
                            if name == EVENT_ID_HEADER:
                                self._ids.add(_id_bytes(value.decode()))
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
            self._offsets.update({(tp.topic, tp.partition): ends[tp] for tp in tps})
        finally:
            await client.stop_consumer(consumer)
        self._write_cache()

    def contains(self, event_id: str) -> bool:
        return _id_bytes(event_id) in self._ids

    def add(self, event_id: str) -> None:
        self._ids.add(_id_bytes(event_id))

    # Cache format: one JSON line of offsets, then the 16-byte ids back to back (no
    # pickle: a file on disk is never trusted to run code).
    def _read_cache(self) -> None:
        self._offsets, self._ids = {}, set()
        try:
            with open(self._cache, "rb") as f:
                header = json.loads(f.readline())
                blob = f.read()
        except (OSError, ValueError):
            return
        if len(blob) % 16:
            return
        self._offsets = {(t, int(p)): o for t, p, o in header["offsets"]}
        self._ids = {blob[i : i + 16] for i in range(0, len(blob), 16)}

    def _write_cache(self) -> None:
        assert self._cache is not None
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._cache.with_suffix(".tmp")
        header = {"offsets": [[t, p, o] for (t, p), o in self._offsets.items()]}
        with open(tmp, "wb") as f:
            f.write(json.dumps(header).encode() + b"\n")
            f.write(b"".join(i for i in self._ids if len(i) == 16))
        tmp.replace(self._cache)
