"""Pure parts of `hub.worker.app` (the Faust shell itself is tested on the broker, in
test_worker.py and test_scenarios.py)."""

from __future__ import annotations

import random
from datetime import date

from hub.kafka.sink import partition_for
from hub.worker import app as worker_app
from hub.worker import messages as m
from hub.worker.app import Engine
from hub.worker.core import Send

N = 4


def engine() -> Engine:
    return Engine(settings=None, partitions=N, app=None, follower=None, schemas=None, processor=None,
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
