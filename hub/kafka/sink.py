"""The connectors' Sink on Kafka: Avro events keyed by person, dead letters, watermarks.

Hot path. `AIOKafkaProducer.send()` costs ≈ 15 µs a message in Python (a coroutine, a
future per message, the pure-Python murmur2, the accumulator's bookkeeping), more than
reading, validating and encoding a record together. The sink therefore fills one
`BatchBuilder` per (topic, partition) itself (`producer.create_batch()`, C record
builder) and hands full batches to `producer.send_batch()`: one future per ~512 KiB
batch instead of one per message. The producer stays idempotent with acks=all
(`hub.kafka.client.producer`), so a retried batch is neither duplicated nor reordered.

Partitions are chosen exactly as aiokafka's (and Faust's) DefaultPartitioner does —
`murmur2(key) & 0x7fffffff % len(partitions)` over the sorted partition ids — so a
person's events land where the worker expects them; `murmur2` below is a faster
word-at-a-time transcription of the Java client's, checked against aiokafka's in the
tests. Messages without a key (dead letters) go round-robin.

Bounded memory: one open batch per (topic, partition), and `send_batch` waits while the
partition already has a batch queued, so at most one batch a partition waits behind the
one in flight. Everything queued is acknowledged when `flush()` returns.

Events are encoded by compiled encoders (`hub.kafka.encoders`: the codec's bytes, ≈ 2×
faster). `publish` is `prepare` (encode, headers, partition: CPU only, what a worker
process of connectors.core.parallel runs on its copy of the sink) then `offer` (append
to the partition's open batch, no coroutine) or, when the batch is full or missing,
`publish_prepared`.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import time
from datetime import date, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from hub.avro.codec import Codec, get_codec
from hub.errors import BrokerError
from hub.kafka import client
from hub.kafka.encoders import fast_encoder
from hub.kafka.seen import EVENT_ID_HEADER
from hub.kafka.watermarks import advance_watermark
from hub.settings import Settings, get_settings

# Batches handed to the producer and not yet awaited: beyond that, wait for the oldest.
MAX_PENDING_BATCHES = 64
STOP_TIMEOUT = 5.0  # seconds the producer gets to stop

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_WORDS: dict[int, struct.Struct] = {}


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as aiokafka's."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    n4 = length >> 2
    words = _WORDS.get(n4)
    if words is None:
        words = _WORDS[n4] = struct.Struct(f"<{n4}I")
    for k in words.unpack_from(data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    extra = length & 3
    if extra:
        tail = length & ~3
        if extra >= 3:
            h ^= data[tail + 2] << 16
        if extra >= 2:
            h ^= data[tail + 1] << 8
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: list[int]) -> int:
    """aiokafka's DefaultPartitioner for a non-null key over the sorted partition ids."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


class KafkaSink:
    def __init__(self, settings: Settings | None = None, codec: Codec | None = None) -> None:
        self.settings = settings or get_settings()
        self.codec = codec or get_codec()
        self._producer: AIOKafkaProducer | None = None
        self._partitions: dict[str, list[int]] = {}
        self._round_robin: dict[str, itertools.cycle] = {}
        self._batches: dict[tuple[str, int], Any] = {}  # (topic, partition) → open BatchBuilder
        self._pending: list[asyncio.Future] = []
        self._encoders: dict[str, tuple[Any, tuple[str, bytes]]] = {}  # event type → (encode, header)
        self.messages = 0
        self._failed = False  # a batch failed or timed out: stop() no longer flushes

    async def start(self) -> None:
        self._producer = await client.started(client.producer(self.settings))

    async def stop(self, *, abort: bool = False) -> None:
        """Flush and stop; with `abort` (the command failed), stop without waiting for
        what is still queued. The producer's own stop waits for its queue to drain,
        forever if the broker is gone: it is given a few seconds, then left."""
        if self._producer is not None:
            try:
                if not abort and not self._failed:
                    await self.flush()
            finally:
                producer, self._producer = self._producer, None
                try:
                    await asyncio.wait_for(producer.stop(), STOP_TIMEOUT)
                except (TimeoutError, asyncio.TimeoutError):
                    pass  # unacknowledged batches: the command fails or has failed already

    async def __aenter__(self) -> KafkaSink:
        await self.start()
        return self

    async def __aexit__(self, exc_type, *exc: object) -> None:
        await self.stop(abort=exc_type is not None)

    async def publish(self, topic: str, key: str, event: dict[str, Any]) -> None:
        message = self.prepare(topic, key, event)
        if not self.offer(topic, message):
            await self.publish_prepared(topic, message)

    # -- the publishing path in two halves (connectors.core.parallel) ------------------
    #
    # `prepare` does the CPU work of a message (Avro encoding, headers, partition) and
    # touches no I/O, so that a worker process holding a copy of the sink can run it;
    # the process owning the producer then hands the message to `offer` (no coroutine:
    # it fits in the partition's open batch) or to `publish_prepared` otherwise.

    async def ready(self, topic: str) -> None:
        """Learn the partitions of `topic` (once started), so that `prepare` picks them."""
        if self._producer is not None and topic not in self._partitions:
            await self._partitions_of(topic)

    def prepare(self, topic: str, key: str, event: dict[str, Any]) -> tuple[bytes, bytes, list, int]:
        """(key, value, headers, partition or -1 when the topic's partitions are not known yet)."""
        event_type = event["event_type"]
        codec = self._encoders.get(event_type)
        if codec is None:
            codec = self._encoders[event_type] = (fast_encoder(self.codec, event_type),
                                                  ("event_type", event_type.encode()))
        encode, type_header = codec
        key_bytes = key.encode()
        partitions = self._partitions.get(topic)
        if partitions is None:
            partition = -1
        elif len(partitions) == 1:
            partition = partitions[0]
        else:
            partition = partitions[(murmur2(key_bytes) & 0x7FFFFFFF) % len(partitions)]
        return key_bytes, encode(event), [(EVENT_ID_HEADER, event["event_id"].encode()), type_header], partition

    def offer(self, topic: str, message: tuple[bytes, bytes, list, int]) -> bool:
        """Append a prepared message to its partition's open batch if it fits there."""
        partition = message[3]
        if partition < 0:
            return False
        batch = self._batches.get((topic, partition))
        if batch is None or batch.append(timestamp=None, key=message[0], value=message[1], headers=message[2]) is None:
            return False
        self.messages += 1
        return True

    async def publish_prepared(self, topic: str, message: tuple[bytes, bytes, list, int]) -> None:
        """Queue a prepared message (what `offer` could not take)."""
        if message[3] < 0:
            await self._append(topic, message[0], message[1], message[2])
        else:
            await self._append_at(topic, message[3], message[0], message[1], message[2])

    async def dead_letter(self, topic: str, record: dict[str, Any]) -> None:
        fields = {k: record.get(k) for k in ("source", "file", "position", "reason", "detail", "raw", "row", "received_at")}
        if isinstance(fields["received_at"], str):
            fields["received_at"] = datetime.fromisoformat(fields["received_at"])
        await self._append(topic, None, self.codec.encode("dead_letter", fields), [("reason", record["reason"].encode())])

    async def watermark(self, source: str, as_of: date) -> None:
        await self.flush()
        assert self._producer is not None
        await advance_watermark(self._producer, source, as_of, self.settings)

    async def flush(self) -> None:
        """Ship every open batch and wait until all are acknowledged (raises on failure)."""
        for (topic, partition), batch in list(self._batches.items()):
            del self._batches[topic, partition]
            if batch.record_count():
                await self._ship(batch, topic, partition)
        if self._pending:
            pending, self._pending = self._pending, []
            await self._settle(pending)

    # -- internals -------------------------------------------------------------------

    async def _partitions_of(self, topic: str) -> list[int]:
        producer = self._producer
        assert producer is not None, "KafkaSink not started"
        await producer.client._wait_on_metadata(topic)  # noqa: SLF001 — what send() does too
        partitions = sorted(producer.client.cluster.partitions_for_topic(topic) or ())
        if not partitions:
            raise RuntimeError(f"topic {topic} has no partition")
        self._partitions[topic] = partitions
        self._round_robin[topic] = itertools.cycle(partitions)
        return partitions

    async def _append(self, topic: str, key: bytes | None, value: bytes, headers: list) -> None:
        partitions = self._partitions.get(topic) or await self._partitions_of(topic)
        if key is None:
            partition = next(self._round_robin[topic])
        elif len(partitions) == 1:
            partition = partitions[0]
        else:
            partition = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
        await self._append_at(topic, partition, key, value, headers)

    async def _append_at(self, topic: str, partition: int, key: bytes | None, value: bytes, headers: list) -> None:
        self.messages += 1
        batch = self._batches.get((topic, partition))
        if batch is not None:
            if batch.append(timestamp=None, key=key, value=value, headers=headers) is not None:
                return
            del self._batches[topic, partition]
            await self._ship(batch, topic, partition)
        assert self._producer is not None, "KafkaSink not started"
        batch = self._producer.create_batch()
        if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
            raise ValueError(f"message of {len(value)} bytes too large for a batch on {topic}")
        self._batches[topic, partition] = batch

    async def _ship(self, batch: Any, topic: str, partition: int) -> None:
        assert self._producer is not None
        batch.close()
        # send_batch waits while the partition's previous batch is still queued, and gives
        # up after the producer's request timeout: tried again up to kafka_ack_timeout.
        timeout = self.settings.kafka_ack_timeout
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                future = await asyncio.wait_for(self._producer.send_batch(batch, topic, partition=partition), remaining)
                break
            except KafkaTimeoutError:
                continue
            except (TimeoutError, asyncio.TimeoutError):
                self._failed = True
                raise self._silent(timeout, len(self._pending) + 1) from None
        self._pending.append(future)
        if len(self._pending) >= MAX_PENDING_BATCHES:
            half = len(self._pending) // 2
            oldest, self._pending = self._pending[:half], self._pending[half:]
            await self._settle(oldest)

    async def _settle(self, futures: list[asyncio.Future]) -> None:
        """Until the broker has acknowledged `futures` (raises the first failure). The
        producer retries a batch for as long as the broker is away: past
        `kafka_ack_timeout` seconds without a single acknowledgement, stop with an error
        rather than wait in silence."""
        timeout = self.settings.kafka_ack_timeout
        waiting = set(futures)
        try:
            while waiting:
                done, waiting = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    raise self._silent(timeout, len(waiting))
                for f in done:
                    f.result()
        except BaseException:
            self._failed = True
            raise

    @staticmethod
    def _silent(seconds: float, batches: int) -> BrokerError:
        return BrokerError(
            f"Kafka n'a rien confirmé depuis {seconds:g} s ({batches} lot(s) en attente) : rien n'est perdu, "
            "relancez la même commande quand Kafka répond (ce qui est déjà publié comptera « inchangé »)"
        )
