"""`hub.worker.tables`: a partition's state restored from its changelog on the real
broker — all of it, in order, from the offset the database records, once per generation.

(`PartitionStore` with `Engine.persist`, the writing side, is in test_app.py.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from hub.kafka import client
from hub.kafka.topics import CLOCK_TABLE, PERSONS_TABLE, apply_topics, worker_topics
from hub.settings import Settings
from hub.worker.tables import Tables

pytestmark = pytest.mark.kafka


@pytest.fixture
async def tables(kafka_broker, tmp_path):
    settings = Settings(kafka_bootstrap=kafka_broker, home=tmp_path, worker_id=f"tables-{uuid.uuid4().hex[:8]}")
    admin = client.admin(settings)
    await admin.start()
    try:
        await apply_topics(admin, worker_topics(settings, 2), 1)
    finally:
        await admin.close()
    t = Tables(settings, tmp_path / "state")
    yield t
    await t.on_stop()


@pytest.fixture
async def changelog(kafka_broker, tables):
    """Append records to a partition of the persons changelog, as another worker would;
    their offsets."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker, acks="all")
    await producer.start()

    async def append(partition: int, *records: tuple[bytes, bytes | None]) -> list[int]:
        offsets = []
        for key, value in records:
            meta = await producer.send_and_wait(tables.topics[PERSONS_TABLE], value, key=key, partition=partition)
            offsets.append(meta.offset)
        return offsets

    yield append
    await producer.stop()


async def test_a_fresh_database_is_restored_from_the_whole_changelog(tables, changelog):
    await changelog(1, (b"a", b"1"), (b"b", b"2"), (b"a", b"3"), (b"c", b"4"), (b"b", None))
    await changelog(0, (b"other", b"partition"))
    assert await tables.restore(PERSONS_TABLE, 1) == 5
    store = tables.store(PERSONS_TABLE, 1)
    assert (store.get("a"), store.get("b"), store.get("c"), store.get("other")) == (b"3", None, b"4", None)
    assert store.recorded() == 4
    assert list(store.scan(None, None)) == [("a", b"3"), ("c", b"4")]  # the offset is not a key


async def test_a_restore_reads_only_what_follows_the_recorded_offset(tables, changelog):
    await changelog(1, (b"a", b"1"), (b"b", b"2"))
    assert await tables.restore(PERSONS_TABLE, 1) == 2
    assert await tables.restore(PERSONS_TABLE, 1) == 0  # nothing new
    await changelog(1, (b"a", b"5"), (b"d", b"6"))  # another worker's
    assert await tables.restore(PERSONS_TABLE, 1) == 2
    store = tables.store(PERSONS_TABLE, 1)
    assert (store.get("a"), store.get("b"), store.get("d"), store.recorded()) == (b"5", b"2", b"6", 3)


async def test_a_partition_is_restored_once_per_generation(tables, changelog):
    await changelog(1, (b"a", b"1"))
    await tables.ready(PERSONS_TABLE, 1, 7)
    await changelog(1, (b"a", b"2"))
    await tables.ready(PERSONS_TABLE, 1, 7)  # the same generation: already this worker's
    assert tables.store(PERSONS_TABLE, 1).get("a") == b"1"
    await tables.ready(PERSONS_TABLE, 1, 8)  # a rebalance: others may have written it
    assert tables.store(PERSONS_TABLE, 1).get("a") == b"2"
    await tables.ready(CLOCK_TABLE, 0, 8)  # an empty changelog: nothing to read
    assert tables.store(CLOCK_TABLE, 0).recorded() is None


async def test_records_written_after_another_workers_are_read_again_with_theirs(tables, changelog):
    """This worker wrote after records of another that its database lacks: its offset
    stayed before them (PartitionStore.write), so the next restore applies both, in the
    changelog's order."""
    await changelog(1, (b"a", b"1"))
    await tables.restore(PERSONS_TABLE, 1)
    await changelog(1, (b"x", b"theirs"), (b"a", b"theirs"))
    store = tables.store(PERSONS_TABLE, 1)
    store.put("a", b"mine")
    store.put("y", b"mine")
    offsets = await changelog(1, (b"a", b"mine"), (b"y", b"mine"))  # as Engine.persist sends them
    assert not store.write(offsets)
    assert (store.get("x"), store.recorded()) == (None, 0)
    assert await tables.restore(PERSONS_TABLE, 1) == 4
    assert (store.get("a"), store.get("x"), store.get("y"), store.recorded()) == (b"mine", b"theirs", b"mine", 4)


def test_each_partition_has_a_database_of_its_own_under_the_state_directory(tmp_path):
    t = Tables(Settings(home=tmp_path, worker_id="w"), tmp_path / "state")
    t.store(PERSONS_TABLE, 0).db.put(b"k", b"0")
    assert t.store(PERSONS_TABLE, 1).db.get(b"k") is None
    assert sorted(p.name for p in Path(tmp_path / "state").iterdir()) == ["persons-0.rocksdb", "persons-1.rocksdb"]
    assert t.store(PERSONS_TABLE, 0).topic == "w-persons-changelog" and t.store(CLOCK_TABLE, 0).topic == "w-clock-changelog"
