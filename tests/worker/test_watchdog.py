"""`hub.worker.watchdog`: when a partition counts as stalled, and what reading it again
does to Faust's consumer bookkeeping; when the broker counts as silent, and a worker
whose broker stops and starts again under it."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from faust.types import TP

from hub.kafka.embedded import EmbeddedKafka, free_port
from hub.kafka.topics import CASES
from hub.settings import Settings
from hub.types.events import CLOCK_SOURCES
from hub.worker.watchdog import BrokerWatch, StallWatch, read_again
from tests.conftest import run_hub
from tests.worker import factory as f
from tests.worker.conftest import (
    SAMPLE_DIRECTORY,
    base,
    cases,
    end_offsets,
    offsets,
    produce,
    run_worker,
    start_worker,
    written_since,
    years_before,
)

D = timedelta(days=1)

A, B = TP("cfa.contrats.v1", 2), TP("missions-locales.jeunes.v1", 1)


def test_a_partition_behind_its_end_without_progress_is_stalled_after_the_patience():
    watch = StallWatch(patience=30)
    assert watch.stalled(0, 100, {A: 85}, {A: 232}) == []
    assert watch.stalled(29, 100, {A: 85}, {A: 232}) == []
    assert watch.stalled(30, 100, {A: 85}, {A: 232}) == [A]
    # Read again: a new wait starts, it is not returned at every look.
    assert watch.stalled(35, 100, {A: 85}, {A: 232}) == []
    assert watch.stalled(60, 100, {A: 85}, {A: 232}) == [A]


def test_a_committed_offset_that_moves_is_not_a_stall():
    watch = StallWatch(patience=30)
    for t, offset in enumerate(range(85, 200, 5)):
        assert watch.stalled(t * 10, 100, {A: offset}, {A: 232}) == []


def test_nothing_is_stalled_while_the_engine_processes():
    """A long tick or a slow batch: the processed count moves, no partition is judged."""
    watch = StallWatch(patience=30)
    for t in range(0, 100, 5):
        assert watch.stalled(t, t, {A: 85, B: 9}, {A: 232, B: 73}) == []
    # Then quiet: the patience counts from the last progress.
    assert watch.stalled(120, 95, {A: 85, B: 9}, {A: 232, B: 73}) == []
    assert watch.stalled(124, 95, {A: 85, B: 9}, {A: 232, B: 73}) == []
    assert watch.stalled(125, 95, {A: 85, B: 9}, {A: 232, B: 73}) == [A, B]


def test_a_partition_at_its_end_or_never_committed_or_unknown_is_never_stalled():
    watch = StallWatch(patience=30)
    committed = {A: 232, B: None, TP("rectorat.eleves.v1", 0): 10}
    ends = {A: 232, B: 73}  # the third: no end known yet
    for t in range(0, 200, 10):
        assert watch.stalled(t, 0, committed, ends) == []


def test_a_partition_that_catches_up_then_falls_behind_waits_again():
    watch = StallWatch(patience=30)
    watch.stalled(0, 0, {A: 85}, {A: 232})
    watch.stalled(20, 0, {A: 232}, {A: 232})  # caught up
    assert watch.stalled(40, 0, {A: 232}, {A: 300}) == []  # new records: a new wait
    assert watch.stalled(70, 0, {A: 232}, {A: 300}) == [A]


def test_forget_starts_every_wait_over():
    watch = StallWatch(patience=30)
    watch.stalled(0, 0, {A: 85}, {A: 232})
    watch.forget()  # a rebalance
    assert watch.stalled(30, 0, {A: 85}, {A: 232}) == []
    assert watch.stalled(60, 0, {A: 85}, {A: 232}) == [A]


class _Consumer:
    """The parts of Faust's Consumer that `read_again` touches."""

    def __init__(self) -> None:
        self._acked = defaultdict(list, {A: [87, 88, 90], B: [10]})
        self._acked_index = defaultdict(set, {A: {87, 88, 90}, B: {10}})
        self._gap = defaultdict(list, {A: ["86-87"]})
        self.seeks: list[tuple[TP, int]] = []

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


async def test_reading_again_forgets_the_acknowledgements_and_seeks_to_the_committed_offset():
    consumer = _Consumer()
    await read_again(consumer, [A], {A: 85, B: 9})
    assert consumer.seeks == [(A, 85)]
    assert A not in consumer._acked and A not in consumer._acked_index and A not in consumer._gap
    assert consumer._acked[B] == [10] and consumer._acked_index[B] == {10}  # others untouched


# -- the broker watch ---------------------------------------------------------------------


def test_a_silent_broker_is_reported_after_the_patience_then_every_repeat_then_its_return():
    watch = BrokerWatch(patience=10, repeat=60)
    assert watch.observe(0, True) is None
    assert watch.observe(5, False) is None  # silent since 5
    assert watch.observe(10, False) is None
    assert watch.observe(15, False) == ("down", 10)
    assert [watch.observe(t, False) for t in range(20, 75, 5)] == [None] * 11
    assert watch.observe(75, False) == ("down", 70)
    assert watch.observe(80, True) == ("back", 75)
    assert watch.observe(85, True) is None


def test_a_short_silence_says_nothing_and_a_new_one_waits_again():
    watch = BrokerWatch(patience=10, repeat=60)
    assert watch.observe(0, False) is None
    assert watch.observe(9, False) is None
    assert watch.observe(10, True) is None  # back before any warning: nothing to say
    assert watch.observe(20, False) is None
    assert watch.observe(29, False) is None
    assert watch.observe(30, False) == ("down", 10)


# -- on the real broker ------------------------------------------------------------------

# Loaded by the worker's interpreter (PYTHONPATH): Faust loses the acknowledgement of one
# record, once. Faust alone would commit past it (one unacknowledged offset at a
# partition's head passes); the engine's consumer stops its commits there
# (hub/worker/transport.py) and the watchdog has the partition read again.
LOSE_ACKS = '''
import os
from faust.transport.consumer import Consumer

_topic, _partition, _first = os.environ["LOSE_ACKS_AT"].split(":")
_lost = set()
_ack = Consumer.ack


def ack(self, message):
    if message.topic == _topic and message.partition == int(_partition) and message.offset == int(_first) and not _lost:
        _lost.add(message.offset)
        message.acked = True
        return False
    return _ack(self, message)


Consumer.ack = ack
'''


@pytest.mark.kafka
def test_a_partition_faust_no_longer_commits_is_read_again_and_nothing_is_lost(worker_env, unique, tmp_path):
    env = worker_env
    b = base(env)
    tag = f"ACK{unique.upper()}"
    events = f.bulk(300, tag, b, seed=5)
    topic = "missions-locales.jeunes.v1"
    at = end_offsets(env, topic)[0] + 5  # the sixth new record of partition 0
    start = offsets(env)
    produce(env, events, watermarks={s: b + 200 * D for s in CLOCK_SOURCES})

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(LOSE_ACKS)
    faulty = {**env, "PYTHONPATH": str(hook), "LOSE_ACKS_AT": f"{topic}:0:{at}", "HUB_WORKER_STALL_PATIENCE": "3",
              "HUB_HOME": str(tmp_path / "faulty")}
    done = run_hub("worker", "--until-idle", env=faulty, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    stalls = [json.loads(x) for x in done.stderr.splitlines()
              if x.startswith("{") and json.loads(x)["event"].startswith("partitions stalled")]
    assert [p for s in stalls for p in s["partitions"] if p.startswith(f"{topic}:0 {at}/")], done.stderr[-4000:]
    got = written_since(env, start, tag)

    start = offsets(env)
    run_worker({**env, "HUB_WORKER_ID": env["HUB_WORKER_ID"] + "-ref", "HUB_HOME": str(tmp_path / "ref")})
    want = written_since(env, start, tag)
    live = {k: r for k, r in want[CASES].items() if r is not None}
    assert len(live) > 50
    assert {k: r for k, r in got[CASES].items() if r is not None} == live


class _Lines:
    """The JSON log lines of a running worker's stderr, read by a thread."""

    def __init__(self, proc) -> None:
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(proc.stderr,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            self.lines.put(raw.decode(errors="replace"))

    def wait_for(self, event: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if line.startswith("{") and json.loads(line)["event"].startswith(event):
                return json.loads(line)
        raise AssertionError(f"no {event!r} within {timeout} s:\n" + "".join(self.seen[-30:]))


@pytest.mark.kafka
def test_a_worker_says_when_kafka_stops_answering_and_goes_on_when_it_is_back(tmp_path_factory, tmp_path, unique):
    """The broker stopped under a running worker, then started again (same port, same
    data): the worker warns, says when it is back, and the events published after are
    turned into cases by the same process."""
    broker = EmbeddedKafka(tmp_path_factory.mktemp("outage-kafka"), Settings().jar_cache)
    port = free_port()
    env = {**os.environ, "HUB_KAFKA_BOOTSTRAP": broker.start(port, heap="512m").bootstrap,
           "HUB_HOME": str(tmp_path / "home"), "HUB_WORKER_ID": f"outage-{unique}"}
    proc = None
    try:
        for args in (("topics", "apply"), ("directory", "load", str(SAMPLE_DIRECTORY))):
            assert run_hub(*args, env=env).returncode == 0
        proc = start_worker(env)
        lines = _Lines(proc)
        lines.wait_for("directory applied", 120)

        broker.stop()
        down = lines.wait_for("Kafka is not answering", 60)
        assert down["level"] == "warning" and down["seconds"] >= 10 and proc.poll() is None
        broker.start(port, heap="512m")
        back = lines.wait_for("Kafka answers again", 90)
        assert back["after_seconds"] >= down["seconds"]

        b = base(env)
        nom, ine = f"PANNE{unique.upper()}", f.random_ine()
        p = f.person(nom, dob=years_before(b, 19), ine=ine, commune=f.POITIERS)
        produce(env, [f.eleve_inscrit(p, b - 200 * D), f.eleve_sorti(p, b - 60 * D, motif="05")],
                watermarks={s: b for s in CLOCK_SOURCES})
        deadline = time.monotonic() + 90
        while not (found := cases(env, names=nom)) and time.monotonic() < deadline:
            time.sleep(1)
        assert [json.loads(x)["type"] for x in found] == ["DECROCHAGE"]
        assert proc.poll() is None
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
        broker.stop()
