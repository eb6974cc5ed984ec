"""The SIECLE snapshots on `hub.connectors.snapshots.v1` (hub/kafka/snapshots.py), on the
real broker: a snapshot of many chunks comes back whole, in memory or in a scratch
table, streamed chunk by chunk; a missing or altered chunk stops the load."""

from __future__ import annotations

import json
from datetime import date

import pytest

from connectors.core.types import PupilState, Snapshot
from hub.kafka import client, snapshots
from hub.kafka.snapshots import KafkaSnapshotStore
from hub.kafka.topics import SNAPSHOTS
from tests.conftest import run_hub
from tests.connectors.helpers import fresh_uai

pytestmark = pytest.mark.kafka

AS_OF = date(2026, 3, 15)


@pytest.fixture
def env(hub_env, monkeypatch):
    assert run_hub("topics", "apply", env=hub_env).returncode == 0
    monkeypatch.setattr(snapshots, "CHUNK", 512)  # hundreds of chunks for a few thousand pupils
    return hub_env


def pupils(n: int) -> dict[str, PupilState]:
    out = {}
    for i in range(n):
        if i % 7 == 0:
            out[f"{10_000 + i}"] = PupilState.gone(date(2026, 1, 1 + i % 28))
        else:
            out[f"{10_000 + i}"] = PupilState(False, f"{i:010d}A" if i % 2 else None, f"NOM{i}", "Léa",
                                              date(2009, 1 + i % 12, 1 + i % 28), "86194")
    return out


async def saved(n: int) -> tuple[str, dict[str, PupilState]]:
    uaj = fresh_uai()
    kept = pupils(n)
    store = KafkaSnapshotStore()
    await store.save(Snapshot(uaj=uaj, as_of=AS_OF, pupils=dict(kept)))
    store.close()
    return uaj, kept


@pytest.mark.parametrize("memory_limit", [10**9, 1], ids=["in memory", "scratch table"])
async def test_a_snapshot_of_many_chunks_comes_back_whole(env, monkeypatch, memory_limit):
    monkeypatch.setattr("connectors.rectorat.state.MEMORY_LIMIT", memory_limit)
    uaj, kept = await saved(3000)
    store = KafkaSnapshotStore()
    try:
        back = await store.previous(uaj)
        assert back is not None and back.as_of == AS_OF
        assert isinstance(back.pupils, dict) == (memory_limit > 3000)
        assert dict(back.pupils.items()) == kept
        assert len(store._offsets) > 20  # the many chunks of the test
    finally:
        store.close()


async def overwrite_chunk(uaj: str, number: int, value: bytes | None) -> None:
    """Write chunk `number` (negative: from the end) of the current version again."""
    store = KafkaSnapshotStore()
    meta = json.loads((await store._load())[uaj.encode()])
    version, number = meta["version"], number % meta["chunks"]
    producer = client.producer()
    await producer.start()
    try:
        await producer.send_and_wait(SNAPSHOTS, value, key=f"{uaj}#{version}#{number}".encode())
    finally:
        await producer.stop()


@pytest.mark.parametrize("number, value, problem", [
    (-1, b"\x00" * 512, "corrupt"),  # the stream's end does not match its digest
    (3, b"\x00" * 512, "corrupt"),  # a chunk written again after the others: out of order
    (3, None, "incomplete"),  # a deleted chunk
], ids=["altered last chunk", "chunk written again", "deleted chunk"])
async def test_a_damaged_snapshot_stops_the_load(env, monkeypatch, number, value, problem):
    monkeypatch.setattr("connectors.rectorat.state.MEMORY_LIMIT", 1)
    uaj, _ = await saved(2000)
    await overwrite_chunk(uaj, number, value)
    store = KafkaSnapshotStore()
    try:
        with pytest.raises(RuntimeError, match=problem):
            await store.previous(uaj)
    finally:
        store.close()


async def test_no_snapshot_yet(env):
    store = KafkaSnapshotStore()
    assert await store.previous(fresh_uai()) is None
