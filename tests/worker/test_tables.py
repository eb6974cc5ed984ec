"""`hub.worker.tables`: a partition's state restored from its changelog on the real
broker — all of it, in order, from the offset the database records, once per generation.

(`PartitionStore` with `Engine.persist`, the writing side, is in test_app.py.)"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer
from structlog.testing import capture_logs

from hub.kafka import client
from hub.kafka.topics import CLOCK_TABLE, PERSONS_TABLE, apply_topics, worker_topics
from hub.settings import Settings
from hub.worker.app import Engine
from hub.worker.transport import expedite, send_many
from hub.worker.tables import CLAIM_KEY, EPOCH_HEADER, EPOCH_KEY, Tables

pytestmark = pytest.mark.kafka


@pytest.fixture
def settings(kafka_broker, tmp_path) -> Settings:
    return Settings(kafka_bootstrap=kafka_broker, home=tmp_path, worker_id=f"tables-{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def tables(settings, tmp_path):
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
async def worker_tables(settings, tables, tmp_path):
    """More workers' tables on the same changelogs (each its own database)."""
    made = []

    def make(name: str) -> Tables:
        made.append(Tables(settings, tmp_path / name))
        return made[-1]

    yield make
    for t in made:
        await t.on_stop()


class _Producer:
    """aiokafka's producer as `Engine.persist` calls Faust's."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def send_many(self, topic, partition, records, headers):
        return await send_many(self.producer, topic, partition, records, headers)

    def expedite(self) -> None:
        expedite(self.producer)


@pytest.fixture
async def persist(kafka_broker):
    """`Engine.persist` itself, on the real broker."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker, acks="all", enable_idempotence=True)
    await producer.start()
    engine = Engine(settings=None, partitions=2, app=SimpleNamespace(producer=_Producer(producer)), follower=None,
                    schemas=None, sequencer=None, processor=None, internal="", topics=())
    yield engine.persist
    await producer.stop()


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


async def test_a_claim_fences_off_what_a_former_owner_writes_after_it(tables, worker_tables, persist):
    """A worker frozen past its membership check writes after the group gave its
    partition to another: its records, tagged with its older claim, never reach a state."""
    former, owner, later = worker_tables("former"), tables, worker_tables("later")
    await former.ready(PERSONS_TABLE, 1, 4, persist)
    store = former.store(PERSONS_TABLE, 1)
    store.put("a", b"before")
    await persist(store)
    await owner.ready(PERSONS_TABLE, 1, 5, persist)  # the group moved the partition
    assert owner.store(PERSONS_TABLE, 1).epoch == b"2:5"
    store = former.store(PERSONS_TABLE, 1)  # it wakes up and writes
    assert store.epoch == b"1:4"
    store.put("a", b"stale")
    store.put("z", b"stale")
    await persist(store)
    store = owner.store(PERSONS_TABLE, 1)
    store.put("b", b"owner")
    await persist(store)
    with capture_logs() as logs:
        await later.ready(PERSONS_TABLE, 1, 6)
    mine = later.store(PERSONS_TABLE, 1)
    assert (mine.get("a"), mine.get("z"), mine.get("b")) == (b"before", None, b"owner")
    assert [x["records"] for x in logs if x["log_level"] == "warning"] == [2]
    await owner.ready(PERSONS_TABLE, 1, 7)  # the owner, restoring again, agrees
    assert owner.store(PERSONS_TABLE, 1).get("a") == b"before"


async def test_what_a_former_owner_wrote_before_the_claim_is_read_by_the_claimer(tables, worker_tables, persist):
    """Records that land between the new owner's restore and its marker are not fenced
    off (they come before it): the restore that follows the claim reads them, so the
    owner's state and every later restore agree."""
    former, owner = worker_tables("former"), tables
    await former.ready(PERSONS_TABLE, 0, 4, persist)

    async def late_write_then_persist(store):
        late = former.store(PERSONS_TABLE, 0)
        late.put("a", b"former's last")
        await persist(late)
        await persist(store)

    await owner.ready(PERSONS_TABLE, 0, 5, late_write_then_persist)
    assert owner.store(PERSONS_TABLE, 0).get("a") == b"former's last"
    check = worker_tables("check")
    await check.ready(PERSONS_TABLE, 0, 6)
    assert check.store(PERSONS_TABLE, 0).get("a") == b"former's last"
    assert check.store(PERSONS_TABLE, 0).get(CLAIM_KEY.decode()) == owner.store(PERSONS_TABLE, 0).get(CLAIM_KEY.decode()) == b"2:5"


async def test_every_changelog_record_carries_its_writers_claim(tables, persist, kafka_broker):
    await tables.ready(CLOCK_TABLE, 0, 3, persist)
    store = tables.store(CLOCK_TABLE, 0)
    store.put("wm:rectorat", b"740000")
    await persist(store)
    reader = client.consumer(settings=Settings(kafka_bootstrap=kafka_broker), group_id=None)
    await reader.start()
    try:
        from aiokafka import TopicPartition

        tp = TopicPartition(tables.topics[CLOCK_TABLE], 0)
        reader.assign([tp])
        await reader.seek_to_beginning(tp)
        records = (await reader.getmany(tp, timeout_ms=5000)).get(tp, [])
    finally:
        await reader.stop()
    assert [(r.key, dict(r.headers).get(EPOCH_HEADER)) for r in records] == [
        (EPOCH_KEY, b"1:3"), (b"wm:rectorat", b"1:3")]
