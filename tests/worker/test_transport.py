"""`hub.worker.transport.seek_to_committed_or_beginning` on the real broker: after a
rebalance Faust drops the records it had fetched and seeks back to the committed
offsets; a partition the group never committed must go back to its beginning, not stay
past the dropped records (the stall of `hub worker --until-idle` it caused)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from hub.worker.transport import expedite, seek_to_committed_or_beginning

pytestmark = pytest.mark.kafka


@pytest.fixture
async def read_all(kafka_broker):
    """A topic of 5 records and a group consumer that has fetched them all, committing
    nothing (as Faust before its first commit)."""
    topic = f"rewind.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker)
    await producer.start()
    for i in range(5):
        await producer.send_and_wait(topic, b"%d" % i)
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_broker, group_id=f"g-{topic}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    tp = TopicPartition(topic, 0)
    seen = 0
    while seen < 5:
        batch = await consumer.getmany(timeout_ms=5000)
        seen += sum(len(records) for records in batch.values())
    assert await consumer.position(tp) == 5
    yield consumer, tp
    await consumer.stop()


async def test_aiokafka_alone_leaves_a_never_committed_partition_past_its_records(read_all):
    consumer, tp = read_all
    assert (await consumer.seek_to_committed())[tp] is None
    assert await consumer.position(tp) == 5  # the premise of the fix


async def test_a_never_committed_partition_goes_back_to_its_beginning(read_all):
    consumer, tp = read_all
    assert (await seek_to_committed_or_beginning(consumer))[tp] is None
    assert await consumer.position(tp) == 0


async def test_a_committed_partition_goes_back_to_its_committed_offset(read_all):
    consumer, tp = read_all
    await consumer.commit({tp: OffsetAndMetadata(3, "")})
    assert (await seek_to_committed_or_beginning(consumer))[tp] == 3
    assert await consumer.position(tp) == 3


async def test_partitions_of_kept_topics_are_left_where_they_are(read_all):
    consumer, tp = read_all
    await seek_to_committed_or_beginning(consumer, keep={tp.topic})
    assert await consumer.position(tp) == 5


@pytest.fixture
async def lingering(kafka_broker):
    """A producer that holds its batches a minute (its linger) and one sent record."""
    topic = f"linger.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker, linger_ms=60_000, acks="all",
                                enable_idempotence=True)
    await producer.start()
    futures = [await producer.send(topic, b"%d" % i, partition=i % 2) for i in range(4)]
    yield producer, futures
    expedite(producer)  # else stop() waits out the minute
    await producer.stop()


async def test_without_expedite_a_record_waits_out_the_linger(lingering):
    _, futures = lingering
    done, _ = await asyncio.wait(futures, timeout=2)
    assert not done  # the premise: an awaited send would idle for the linger


async def test_expedite_sends_lingering_batches_at_once(lingering):
    producer, futures = lingering
    expedite(producer)
    offsets = [m.offset for m in await asyncio.wait_for(asyncio.gather(*futures), timeout=20)]
    assert sorted(offsets) == [0, 0, 1, 1]
    # later sends linger again, and a second call sends them too
    more = await producer.send(futures and (await futures[0]).topic, b"late", partition=0)
    done, _ = await asyncio.wait([more], timeout=2)
    assert not done
    expedite(producer)
    assert (await asyncio.wait_for(more, timeout=20)).offset == 2
