"""The seen-events store (hub/kafka/seen.py) on the real broker: the ids on a topic are
seen, other ids are not, whatever the size of the in-memory filter in front of the
store (capped at BLOOM_MAX_LOG2 bits: past that, its false positives are answered by
the store)."""

from __future__ import annotations

import uuid

import pytest

from hub.kafka import client, seen
from hub.kafka.seen import EVENT_ID_HEADER, KafkaSeenEvents
from hub.kafka.topics import TopicSpec, apply_topics

pytestmark = pytest.mark.kafka


def event_id() -> str:
    return "e-" + uuid.uuid4().hex


async def topic_with(ids: list[str]) -> str:
    topic = f"test-seen-{uuid.uuid4().hex[:8]}"
    admin = client.admin()
    await admin.start()
    try:
        await apply_topics(admin, [TopicSpec(topic, 3)], 1)
    finally:
        await admin.close()
    producer = client.producer()
    await producer.start()
    try:
        for i, eid in enumerate(ids):
            await producer.send(topic, b"body", key=f"k{i}".encode(), headers=[(EVENT_ID_HEADER, eid.encode())])
        await producer.flush()
    finally:
        await producer.stop()
    return topic


@pytest.mark.parametrize("max_log2", [seen.BLOOM_MAX_LOG2, 6], ids=["default filter", "saturated filter"])
async def test_the_ids_on_the_topic_are_seen_and_no_other(hub_env, monkeypatch, max_log2):
    monkeypatch.setattr(seen, "BLOOM_MIN_LOG2", min(seen.BLOOM_MIN_LOG2, max_log2))
    monkeypatch.setattr(seen, "BLOOM_MAX_LOG2", max_log2)
    published = [event_id() for _ in range(2000)]
    topic = await topic_with(published)
    store = KafkaSeenEvents()
    try:
        await store.load([topic])
        bits = len(store._bloom.bits) * 8  # noqa: SLF001
        assert bits <= 1 << max_log2 and (max_log2 > 20 or bits == 1 << max_log2)
        assert all(store.contains(eid) for eid in published)
        others = [event_id() for _ in range(2000)]
        assert not any(store.contains(eid) for eid in others)
        # Added during a run: seen at once, and recorded once acknowledged.
        store.add(others[0])
        assert store.contains(others[0]) and not store.contains(others[1])
        store.durable()
    finally:
        store.close()
    again = KafkaSeenEvents()
    try:
        await again.load([topic])
        assert again.contains(others[0]) and all(again.contains(eid) for eid in published[:100])
        assert not again.contains(others[1])
    finally:
        again.close()
