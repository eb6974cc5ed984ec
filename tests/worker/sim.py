"""The worker's logic without Kafka: `core.py` driven the way the Faust shell drives it.

Partitions, the internal topic and the output topics are in memory; messages are
delivered in order per partition, in batches (one message, or with a seed a random
number of them, as the shell's batches), and `shuffle` interleaves partitions
at random (as several partitions are consumed concurrently). Ticks and directory
updates are applied exactly as app.py does (chunks through an Overlay).
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from datetime import date

from aiokafka.partitioner import DefaultPartitioner

from hub.avro import get_codec
from hub.directory import DirectoryIndex, load_directory
from hub.identity import person_key
from hub.kafka.topics import CASES, LITIGES
from hub.settings import RulesConfig
from hub.worker import messages
from hub.worker.core import Batch, ClockKeeper, Overlay, PersonProcessor
from hub.worker.directory import empty_directory

SECRET = "test-secret"
SAMPLE = "deploy/sample/annuaire-poitou-charentes.yaml"
INTERNAL = "<internal>"
_partitioner = DefaultPartitioner()


def sample_directory() -> DirectoryIndex:
    from pathlib import Path

    return DirectoryIndex(load_directory(Path(__file__).resolve().parents[2] / SAMPLE))


class DictStore:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        self.data[key] = value

    def delete(self, key):
        self.data.pop(key, None)

    def scan(self, start, stop):
        keys = sorted(self.data)
        i = bisect.bisect_left(keys, start) if start else 0
        for k in keys[i:]:
            if stop is not None and k >= stop:
                break
            yield k, self.data[k]


class Sim:
    def __init__(self, partitions: int = 4, directory: DirectoryIndex | None = None, seed: int | None = None,
                 rules: RulesConfig | None = None) -> None:
        self.n = partitions
        self.codec = get_codec()
        self.dir = directory or empty_directory()
        self.dir_offset = 0
        self.stores = [DictStore() for _ in range(partitions)]
        self.clock_store = DictStore()
        self.queues = [deque() for _ in range(partitions)]
        self.topics: dict[str, dict[bytes, bytes]] = {}  # compacted view of each output topic
        self.log: list[tuple[str, bytes, bytes | None]] = []  # every output record, in order
        self.litiges: list[dict] = []
        self.rng = random.Random(seed) if seed is not None else None
        self.processor = PersonProcessor(codec=self.codec, secret=SECRET, rules=rules or RulesConfig(),
                                         directory=lambda: (self.dir, self.dir.version))
        self.keeper = ClockKeeper(self.codec)
        self.wm_offset = 0
        self.crashed = 0
        self._init_crashes()

    # -- input ---------------------------------------------------------------------------

    def partition_of(self, key: bytes) -> int:
        return _partitioner(key, list(range(self.n)), list(range(self.n)))

    def key_of(self, event: dict) -> bytes:
        if event["event_type"] == "ACTION_SUIVI":
            return event["case_id"].encode()
        p = event["person"]
        return person_key(p.get("ine"), p["nom"], p["prenom"], p["date_naissance"], SECRET).encode()

    def publish(self, *events: dict) -> None:
        for e in events:
            key = self.key_of(e)
            self.queues[self.partition_of(key)].append(("source", key, self.codec.encode_event(e)))

    def watermark(self, source: str, as_of: date) -> None:
        value = self.codec.encode("watermark", {"source": source, "as_of": as_of, "published_at": _now()})
        clock = self.keeper.on_watermark(self.clock_store, self.wm_offset, value)
        self.wm_offset += 1
        if clock is not None:
            for p in range(self.n):
                self.queues[p].append((INTERNAL, b"__tick__", messages.tick(clock)))

    def clock(self, as_of: date) -> None:
        for source in ("rectorat", "mission-locale", "cfa"):
            self.watermark(source, as_of)

    def load_directory(self, index: DirectoryIndex) -> None:
        self.dir = index
        self.dir_offset += 1
        for p in range(self.n):
            self.queues[p].append((INTERNAL, b"__directory__", messages.directory(self.dir_offset, index.version)))

    # -- processing ------------------------------------------------------------------------

    def run(self, max_steps: int = 1_000_000) -> None:
        for _ in range(max_steps):
            ready = [p for p in range(self.n) if self.queues[p]]
            if not ready:
                self._commit_all()
                if not any(self.queues):
                    return
                continue
            p = self.rng.choice(ready) if self.rng else ready[0]
            batch = self._take(p)
            if self.crashes:
                self._uncommitted[p].append((batch, dict(self.stores[p].data)))
            self._partition = p
            self.step(p, batch)
            if self.crashes:
                roll = self.rng.random()
                if roll < self.crashes:
                    self._crash(p)
                elif roll < 0.3:
                    self._commit(p)
        raise AssertionError("the simulation does not converge")

    def _take(self, p: int) -> list[tuple]:
        """The next batch of partition p: one message, or with a seed up to `max_batch`
        person messages (a tick or a directory update is always a batch of its own, as
        the shell flushes before applying it)."""
        q = self.queues[p]
        size = self.rng.randint(1, self.max_batch) if self.rng else 1
        batch = [q.popleft()]
        while q and len(batch) < size and not _is_broadcast(batch[-1]) and not _is_broadcast(q[0]):
            batch.append(q.popleft())
        return batch

    # -- at-least-once with crashes (enabled by `crashes`: probability per batch) ---------
    #
    # A batch's outputs wait in `pending` until its partition commits (Faust flushes the
    # producer, then commits). A crash of a partition drops a random part of its pending
    # outputs (some records made it to the broker, some not), rolls its state back to any
    # point since the last commit that is not before a batch whose outputs reached the
    # broker (the changelog may be behind the local store, or not; the shell awaits a
    # batch's changelog before sending its outputs) and delivers every uncommitted
    # message again.

    crashes = 0.0
    max_batch = 8
    _partition = 0

    def _init_crashes(self) -> None:
        self.pending = [[] for _ in range(self.n)]  # (batch index in _uncommitted, output)
        self._uncommitted = [[] for _ in range(self.n)]
        self._durable = [0 for _ in range(self.n)]  # batches whose state can no longer roll back

    def _commit(self, p: int) -> None:
        outs, self.pending[p] = self.pending[p], []
        self._deliver([out for _, out in outs])
        self._uncommitted[p] = []
        self._durable[p] = 0

    def _commit_all(self) -> None:
        if self.crashes:
            for p in range(self.n):
                self._commit(p)

    def _crash(self, p: int) -> None:
        uncommitted = self._uncommitted[p]
        # The idempotent producer keeps order per target partition: what reached the
        # broker is a prefix of what was sent to each (topic, partition).
        targets = {}
        for i, (_, out) in enumerate(self.pending[p]):
            targets.setdefault((out.topic, out.partition, out.key), []).append(i)
        cut = {t: self.rng.randrange(len(ix) + 1) for t, ix in targets.items()}
        kept = sorted(i for t, ix in targets.items() for i in ix[: cut[t]])
        floor = self._durable[p]
        for i in kept:
            floor = max(floor, self.pending[p][i][0] + 1)
        self._deliver([self.pending[p][i][1] for i in kept])
        self.pending[p] = []
        if uncommitted:
            # How far the state goes back: not before a batch whose outputs reached the
            # broker (the shell makes a batch's state durable before sending them).
            back = self.rng.randrange(floor, len(uncommitted) + 1)
            if back < len(uncommitted):
                self.stores[p].data = dict(uncommitted[back][1])
            for batch, _ in reversed(uncommitted):
                for message in reversed(batch):
                    self.queues[p].appendleft(message)
        self._uncommitted[p] = []
        self._durable[p] = 0
        self.crashed += 1

    def step(self, p: int, batch: list[tuple]) -> None:
        store = self.stores[p]
        proc = self.processor
        if len(batch) == 1 and _is_broadcast(batch[0]):
            m = messages.parse(batch[0][2])
            if m.kind == messages.TICK:
                targets = proc.tick_targets(store, p, m.clock)
                if targets is not None:
                    self._many(store, p, targets, clock=m.clock)
                    proc.set_clock(store, p, m.clock)
            else:
                offset, version = m.directory
                targets = proc.directory_targets(store, p, offset, version)
                if targets is not None:
                    self._many(store, p, targets, clock=proc.clock(store, p), only_published=True)
                    proc.set_directory(store, p, offset, version)
            return
        b = Batch(store, p)
        outs = []
        for topic, key, value in batch:
            if topic == INTERNAL:
                outs += proc.on_internal(b, key, messages.parse(value))
            else:
                outs += proc.on_source(b, key, value)
        self.emit(outs + proc.flush(b))

    def _many(self, store, p, targets, **kw) -> None:
        overlay = Overlay(store)
        outs = []
        for t in targets:
            key, due = t if isinstance(t, tuple) else (t, None)
            outs += self.processor.reevaluate(overlay, p, key, due=due, **kw)
        self.emit(outs, flushed=True)  # the shell awaits these before writing the state
        overlay.apply()

    def emit(self, outs, *, flushed: bool = False) -> None:
        if self.crashes and not flushed:
            unit = len(self._uncommitted[self._partition]) - 1
            self.pending[self._partition].extend((unit, out) for out in outs)
            return
        if self.crashes:  # a flush delivers everything sent before, in order
            for q in range(self.n):
                earlier, self.pending[q] = self.pending[q], []
                self._deliver([out for _, out in earlier])
                if earlier:
                    self._durable[q] = max(self._durable[q], max(u for u, _ in earlier) + 1)
        self._deliver(outs)

    def _deliver(self, outs) -> None:
        for out in outs:
            if out.topic is None:
                p = out.partition if out.partition is not None else self.partition_of(out.key)
                self.queues[p].append((INTERNAL, out.key, out.value))
                continue
            self.log.append((out.topic, out.key, out.value))
            if out.topic == LITIGES:
                self.litiges.append(self.codec.decode(out.value))
                continue
            table = self.topics.setdefault(out.topic, {})
            if out.value is None:
                table.pop(out.key, None)
            else:
                table[out.key] = out.value

    # -- output --------------------------------------------------------------------------

    def cases(self, topic: str = CASES) -> list[dict]:
        return sorted((self.codec.decode(v) for v in self.topics.get(topic, {}).values()),
                      key=lambda c: c["case_id"])


def _is_broadcast(message: tuple) -> bool:
    topic, _, value = message
    return topic == INTERNAL and value[:1] in (messages.TICK, messages.DIRECTORY)


def _now():
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)
