"""Pure parts of `hub.worker.app` (the Faust shell itself is tested on the broker, in
test_worker.py and test_scenarios.py)."""

from __future__ import annotations

import asyncio
import random
from datetime import date
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaTimeoutError
from rocksdict import Options, Rdict
from structlog.testing import capture_logs

from hub.kafka.sink import partition_for
from hub.worker import app as worker_app
from hub.worker import messages as m
from hub.worker.app import Engine
from hub.worker.core import Send
from hub.worker.tables import OFFSET_KEY, PartitionStore

N = 4


def engine() -> Engine:
    return Engine(settings=None, partitions=N, app=None, follower=None, schemas=None, sequencer=None, processor=None,
                  internal="w-engine-persons",
                  topics=())


def unbundled(sends: list[Send]) -> dict[int, list[tuple[bytes, bytes]]]:
    """Destination partition → the (key, message) it receives, in order."""
    got: dict[int, list[tuple[bytes, bytes]]] = {}
    for s in sends:
        if s.topic is None and s.key == m.BUNDLE_KEY:
            got.setdefault(s.partition, []).extend(
                (k, v.kind + v.payload) for k, v in m.unbundle(m.parse(s.value).payload)
            )
    return got


def test_internal_messages_go_in_one_bundle_per_partition_in_order_and_outputs_are_kept():
    rng = random.Random(7)
    internal = [Send(None, f"k{rng.randrange(50)}".encode(), m.register(str(i))) for i in range(300)]
    outputs = [Send("cases.v1", b"case-%d" % i, b"v") for i in range(5)]
    ticks = [Send(None, b"__tick__", m.tick(date(2026, 1, 1)), p) for p in range(N)]
    outs = internal[:100] + outputs[:2] + ticks + internal[100:] + outputs[2:]
    sends = engine().bundled(outs)
    assert [s for s in sends if s.key != m.BUNDLE_KEY] == outputs[:2] + ticks + outputs[2:]
    bundles = [s for s in sends if s.key == m.BUNDLE_KEY]
    assert len(bundles) == len({s.partition for s in bundles}) <= N
    expected: dict[int, list[tuple[bytes, bytes]]] = {}
    for s in internal:
        expected.setdefault(partition_for(s.key, list(range(N))), []).append((s.key, s.value))
    assert unbundled(sends) == expected


def test_a_large_bundle_is_split_without_losing_or_reordering_anything(monkeypatch):
    monkeypatch.setattr(worker_app, "BUNDLE_BYTES", 1_000)
    big = [Send(None, b"same-key", m.assign(bytes([i % 256]) * 300)) for i in range(20)]
    sends = engine().bundled(big)
    assert len(sends) > 5 and all(len(s.value) <= 1_000 + 400 for s in sends)
    assert unbundled(sends) == {partition_for(b"same-key", list(range(N))): [(s.key, s.value) for s in big]}


def test_nothing_to_bundle_changes_nothing():
    outs = [Send("cases.v1", b"k", b"v"), Send(None, b"__tick__", m.tick(date(2026, 1, 1)), 2)]
    assert engine().bundled(outs) == outs


# -- PartitionStore and Engine.persist: the local database is a prefix of the changelog ----------


class Changelog:
    """A producer that appends to in-memory changelog partitions, as the broker would;
    `foreign` appends records of another worker."""

    def __init__(self, fail: bool = False) -> None:
        self.logs: dict[tuple[str, int], list[tuple[bytes, bytes | None]]] = {}
        self.fail = fail

    def foreign(self, topic: str, partition: int, n: int) -> None:
        self.logs.setdefault((topic, partition), []).extend([(b"other", b"x")] * n)

    async def send(self, topic, key, value, partition, timestamp, headers):
        fut = asyncio.get_running_loop().create_future()
        if self.fail:
            fut.set_exception(KafkaTimeoutError())
        else:
            log = self.logs.setdefault((topic, partition), [])
            log.append((key, value))
            fut.set_result(SimpleNamespace(offset=len(log) - 1))
        return fut

    async def send_many(self, topic, partition, records, headers):
        """As `transport.send_many`: batches of at most 3 records here."""
        records = list(records)
        out = []
        for start in range(0, len(records), 3):
            chunk = records[start : start + 3]
            fut = asyncio.get_running_loop().create_future()
            if self.fail:
                fut.set_exception(KafkaTimeoutError())
            else:
                log = self.logs.setdefault((topic, partition), [])
                fut.set_result(SimpleNamespace(offset=len(log)))
                log.extend(chunk)
            out.append((fut, len(chunk)))
        return out

    def expedite(self) -> None:
        pass


def store_engine(tmp_path, producer: Changelog) -> tuple[Engine, PartitionStore]:
    db = Rdict(str(tmp_path / "db"), options=Options(raw_mode=True))
    e = engine()
    e.app = SimpleNamespace(producer=producer)
    e.exit = lambda code: None
    return e, PartitionStore(db, OFFSET_KEY, "w-persons-changelog", 1)


def test_writes_reach_rocksdb_only_once_their_changelog_records_are_on_the_broker(tmp_path):
    log = Changelog()
    e, store = store_engine(tmp_path, log)
    store.put("a", b"1")
    store.put("b", b"2")
    store.delete("c")
    assert store.get("a") == b"1" and store.get("c") is None  # reads see the pending writes
    assert store.db.get(b"a") is None and store.recorded() is None
    asyncio.run(e.persist(store))
    assert log.logs[("w-persons-changelog", 1)] == [(b"a", b"1"), (b"b", b"2"), (b"c", None)]
    assert (store.db.get(b"a"), store.db.get(b"b"), store.recorded(), store.pending) == (b"1", b"2", 2, {})
    store.put("a", b"3")
    asyncio.run(e.persist(store))
    assert (store.db.get(b"a"), store.recorded()) == (b"3", 3)


def test_a_delivery_that_fails_leaves_rocksdb_as_it_was(tmp_path):
    """The worker then stops (status 1): had RocksDB been written first, its next start
    would hold state the changelog never got, and take the records it reads again for
    replays of what it had applied."""
    e, store = store_engine(tmp_path, Changelog(fail=True))
    stopped = []
    e.exit = stopped.append
    store.put("a", b"1")
    with pytest.raises(KafkaTimeoutError):
        asyncio.run(e.persist(store))
    assert (store.db.get(b"a"), store.recorded()) == (None, None)
    assert stopped == [1]


def test_records_after_another_workers_are_written_but_the_offset_stays(tmp_path, caplog):
    """Another worker wrote the partition meanwhile: its records are not in this
    database, so the offset a later restore starts from must stay before them."""
    log = Changelog()
    e, store = store_engine(tmp_path, log)
    store.put("a", b"1")
    asyncio.run(e.persist(store))
    assert store.recorded() == 0
    log.foreign("w-persons-changelog", 1, 3)  # offsets 1-3
    store.put("a", b"2")
    with capture_logs() as logs:
        asyncio.run(e.persist(store))
    assert (store.db.get(b"a"), store.recorded()) == (b"2", 0)
    assert [x["event"] for x in logs if x["log_level"] == "warning"] == [
        "changelog written by another worker meanwhile: the partition's state will be read again from the "
        "changelog at its next restore"]
    store.put("b", b"1")  # still not after the recorded offset
    asyncio.run(e.persist(store))
    assert store.recorded() == 0


def test_a_fresh_database_records_an_offset_only_from_the_changelogs_start(tmp_path):
    log = Changelog()
    e, store = store_engine(tmp_path, log)
    log.foreign("w-persons-changelog", 1, 2)
    store.put("a", b"1")
    asyncio.run(e.persist(store))
    assert store.recorded() is None
    assert not store.write([]) and store.recorded() is None  # nothing sent: nothing recorded


def test_scan_skips_the_offset_key_and_refuses_pending_writes(tmp_path):
    e, store = store_engine(tmp_path, Changelog())
    for k in ("a", "b", "c"):
        store.put(k, k.encode())
    with pytest.raises(RuntimeError):
        list(store.scan(None, None))
    asyncio.run(e.persist(store))
    assert store.recorded() == 2
    assert list(store.scan(None, None)) == [("a", b"a"), ("b", b"b"), ("c", b"c")]
    assert list(store.scan("b", "c")) == [("b", b"b")]
