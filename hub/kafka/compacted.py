"""Read a topic from the beginning up to its end offsets as they were at the start.

Used for the compacted reference topics (watermarks, directory, schemas, connector
snapshots): the latest value per key is the state, a tombstone (None) deletes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from hub.kafka import client
from hub.settings import Settings


async def read_until_end(topic: str, settings: Settings | None = None, **consumer_options) -> AsyncIterator[ConsumerRecord]:
    """Every record of `topic` present when the call starts, in partition order."""
    consumer: AIOKafkaConsumer = client.consumer(settings=settings, **consumer_options)
    try:
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in await client.topic_partitions(consumer, topic)]
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
                if records and records[-1].offset >= ends[tp] - 1:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await client.stop_consumer(consumer)


async def read_table(topic: str, settings: Settings | None = None) -> dict[bytes, bytes]:
    """Latest value per key of a compacted topic (tombstones remove the key)."""
    table: dict[bytes, bytes] = {}
    async for record in read_until_end(topic, settings):
        if record.value is None:
            table.pop(record.key, None)
        else:
            table[record.key] = record.value
    return table
