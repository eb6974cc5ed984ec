"""Two `hub worker` processes in one consumer group give the cases of one worker alone.

Both have the same HUB_WORKER_ID (one consumer group: they share the partitions, the
internal topic and the tables' changelogs) and each its own HUB_HOME (its own local
RocksDB state, as on two machines). Both are started and the test waits until the group
is stable with two members (so the partitions are shared, whatever each start-up costs)
before it publishes the inputs; then it waits until the group has committed every input
partition up to its end (the check of `hub worker --until-idle`, hub/worker/run.py) twice
in a row, and stops both with SIGTERM: both must exit 0, and each logs how many records
it processed (both > 0: the partitions were shared).

The reference is a third engine with another worker id (its own group, internal topic
and state) run alone on the same topics. Each engine republishes every case it
computes, so the records each one wrote are read from the offsets where it started
(`read_since`), and compared for this test's people only: the same case ids (none
missing, none extra) with the same content, on cases.v1 and on every observatory topic.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from hub.kafka import client
from hub.kafka.topics import ACTIONS, CASES, DIRECTORY, WATERMARKS
from hub.types.events import CLOCK_SOURCES
from tests.conftest import run_hub
from tests.worker import factory as f
from hub.worker.app import PERSON_TOPICS
from tests.worker.conftest import base, offsets, produce, run_worker, settings_for, topics, written_since

pytestmark = pytest.mark.kafka
D = timedelta(days=1)
OPEN = ("OUVERT", "ALERTE")


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "hub"
    with log.open("wb") as err:
        return subprocess.Popen([str(exe), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=err)


def processed(log: Path) -> int | None:
    """The count the worker logs when it stops (None: no such line)."""
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == "worker stopped":
                return record["processed"]
    return None


def timeline(log: Path) -> str:
    """A worker's log for a failure message: its lines not at level info, then its end."""
    text = log.read_text(errors="replace")
    unusual = [x for x in text.splitlines() if '"level": "info"' not in x][-30:]
    return f"{log.name}:\n" + "\n".join(unusual) + "\n…\n" + text[-2500:]


async def _group(env: dict, group: str) -> tuple[str, int]:
    """The consumer group's state and number of members."""
    admin = client.admin(settings_for(env))
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        g = response.to_object()["groups"][0]
        return g["state"], len(g["members"])
    except KafkaError:  # no coordinator yet: the group is being created
        return "", 0
    finally:
        await admin.close()


async def _idle(env: dict, group: str) -> bool:
    """Every input partition of the engine committed by the group up to its end (as
    `hub worker --until-idle` decides, see hub/worker/run.py)."""
    return not await _lagging(env, group)


async def _lagging(env: dict, group: str) -> list[str]:
    """The input partitions of the engine not committed up to their end, as
    "topic:partition committed/end"."""
    settings = settings_for(env)
    names = [*PERSON_TOPICS, ACTIONS, f"{group}-engine-persons", WATERMARKS, DIRECTORY]
    admin, consumer = client.admin(settings), client.consumer(settings=settings)
    await admin.start()
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 — as hub.kafka.compacted
        tps = [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        done = await admin.list_consumer_group_offsets(group)
        return [
            f"{tp.topic}:{tp.partition} {done[tp].offset if tp in done else None}/{ends[tp]}"
            for tp in tps
            if not (ends[tp] <= begins[tp] or (tp in done and done[tp].offset >= ends[tp]))
        ]
    finally:
        await consumer.stop()
        await admin.close()


def wait_for(check, what: str, timeout: float, logs: list[Path], explain=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} not reached in {timeout}s: {explain()}\n" + "\n".join(timeline(x) for x in logs)
            )
        time.sleep(0.5)


def wait_until_idle(env: dict, group: str, what: str, timeout: float, logs: list[Path],
                    explain=lambda: "") -> None:
    """Until the group has committed every input partition to its end, twice in a row."""
    streak = [0]

    def idle_twice() -> bool:
        streak[0] = streak[0] + 1 if asyncio.run(_idle(env, group)) else 0
        return streak[0] >= 2

    wait_for(idle_twice, what, timeout, logs, explain)


def run_pair(env: dict, folder: Path, inputs) -> tuple[float, list[int]]:
    """Two `hub worker` of one group: both join the group, then `inputs()` is published,
    then the group is waited for until idle (twice in a row) and both are stopped."""
    folder.mkdir(parents=True, exist_ok=True)
    group = env["HUB_WORKER_ID"]
    logs = [folder / "one.log", folder / "two.log"]
    t0 = time.monotonic()
    procs = [start_worker({**env, "HUB_HOME": str(folder / name)}, log) for name, log in zip(("one", "two"), logs)]
    try:
        # Both members first, so that the partitions are shared whatever each start-up costs.
        wait_for(lambda: asyncio.run(_group(env, group)) == ("Stable", 2), "a stable group of two", 180, logs)
        inputs()

        # A stall here was the never-committed partitions left past the records Faust
        # drops in a rebalance (hub/worker/transport.py, RewindingConsumer).
        def stalled() -> str:
            for proc in procs:  # mode's Worker writes every task's stack to its log
                proc.send_signal(signal.SIGUSR1)
            time.sleep(2)
            lagging = ", ".join(asyncio.run(_lagging(env, group)))
            return f"lagging {lagging} (task stacks in {folder})"

        wait_until_idle(env, group, "the group idle", 90, logs, explain=stalled)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, log in zip(procs, logs):
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"still running 60s after SIGTERM: {timeline(log)}") from None
            assert code == 0, f"exit status {code}: {timeline(log)}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    elapsed = time.monotonic() - t0
    counts = [processed(log) for log in logs]
    assert None not in counts, "\n".join(timeline(log) for log in logs)
    return elapsed, counts


def test_two_workers_in_one_group_give_the_cases_of_one_worker_alone(worker_env, unique, tmp_path):
    env = worker_env
    b = base(env)
    tag = f"DUO{unique.upper()}"
    events = f.bulk(900, tag, b, seed=3)

    # The pair: one group, two machines, both in the group before the inputs arrive.
    start = offsets(env)
    pair_time, counts = run_pair(
        env, tmp_path / "pair",
        lambda: produce(env, events, watermarks={s: b + 200 * D for s in CLOCK_SOURCES}))
    pair = written_since(env, start, tag)

    # The reference: another engine, alone.
    start = offsets(env)
    alone_time = run_worker({**env, "HUB_WORKER_ID": env["HUB_WORKER_ID"] + "-alone",
                             "HUB_HOME": str(tmp_path / "alone")})
    alone = written_since(env, start, tag)
    print(f"pair: {pair_time:.1f}s, records processed {counts}; alone: {alone_time:.1f}s")

    assert all(counts), f"the two workers did not share the work: records processed {counts}"
    live = {k: r for k, r in alone[CASES].items() if r is not None}
    assert len(live) > 200
    assert Counter(r["type"] for r in live.values()).keys() >= {"DECROCHAGE", "OBLIGATION_FORMATION", "RUPTURE"}

    # cases.v1: the same case ids, none missing, none extra, the same records.
    pair_live = {k: r for k, r in pair[CASES].items() if r is not None}
    logs = "\n".join(timeline(tmp_path / "pair" / name) for name in ("one.log", "two.log"))
    assert sorted(set(live) - set(pair_live)) == [], f"missing with two workers\n{logs}"
    assert sorted(set(pair_live) - set(live)) == [], f"extra with two workers\n{logs}"
    assert pair_live == live
    # No duplicate: one case per person, type and opening date, one open case per person and type.
    people = Counter((r["person"]["ine"] or r["person"]["nom"], r["type"], r["opened_on"]) for r in pair_live.values())
    assert [k for k, n in people.items() if n > 1] == []
    opened = Counter((r["person"]["ine"] or r["person"]["nom"], r["type"]) for r in pair_live.values()
                     if r["status"] in OPEN)
    assert [k for k, n in opened.items() if n > 1] == []
    # The observatories' topics (TRANSFERE records included).
    for topic in topics()[1:]:
        assert {k: r for k, r in pair[topic].items() if r is not None} == {
            k: r for k, r in alone[topic].items() if r is not None}, topic

    # What `hub cases` shows now (the latest records of both runs): each case once.
    done = run_hub("cases", "--format", "jsonl", env=env)
    assert done.returncode == 0, done.stderr
    shown = [json.loads(x) for x in done.stdout.splitlines()]
    ids = [c["case_id"] for c in shown if c["person"] is not None and c["person"]["nom"].startswith(tag)]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(live)


def test_members_stopped_and_started_while_the_group_works_lose_nothing(worker_env, unique, tmp_path):
    """The black-box audit's churn: members of one group stopped (SIGTERM) and started
    again while the group works through a backlog, then the group run until idle: the
    cases of an engine run alone, none missing, none different. Lost before: a stop
    cancelled the batch in hand and Faust acknowledged it all the same, records fetched
    before a rebalance were processed after it (`persons_agent`, `forget`), and records
    fetched before a rebalance's seek were taken for the first ones after it, the
    records between for holes (`RewindingConsumer._drain_messages`); bench/churn.py is
    the same run at the scale of the demo year."""
    env = worker_env
    b = base(env)
    tag = f"CHURN{unique.upper()}"
    events = f.bulk(3000, tag, b, seed=5)
    produce(env, events, watermarks={s: b + 200 * D for s in CLOCK_SOURCES})

    start = offsets(env)
    run_worker({**env, "HUB_WORKER_ID": env["HUB_WORKER_ID"] + "-alone", "HUB_HOME": str(tmp_path / "alone")})
    alone = written_since(env, start, tag)

    start = offsets(env)
    folder = tmp_path / "churn"
    folder.mkdir()
    steady = start_worker({**env, "HUB_HOME": str(folder / "steady")}, folder / "steady.log")
    try:
        for i in range(4):  # a member joins, works a little, leaves: two rebalances each time
            other = start_worker({**env, "HUB_HOME": str(folder / f"m{i}")}, folder / f"m{i}.log")
            time.sleep(6 + i)
            other.send_signal(signal.SIGTERM)
            other.wait(timeout=60)
    finally:
        steady.send_signal(signal.SIGTERM)
        steady.wait(timeout=60)
    run_worker({**env, "HUB_HOME": str(folder / "last")})
    churned = written_since(env, start, tag)

    logs = "\n".join(timeline(p) for p in sorted(folder.glob("*.log")))
    live = {k: r for k, r in alone[CASES].items() if r is not None}
    assert len(live) > 100
    got = {k: r for k, r in churned[CASES].items() if r is not None}
    assert sorted(set(live) - set(got)) == [], f"missing after the churn: {brief(live, set(live) - set(got))}\n{logs}"
    assert sorted(set(got) - set(live)) == [], f"extra after the churn: {brief(got, set(got) - set(live))}\n{logs}"
    assert got == live


def brief(cases: dict, ids: set) -> list:
    """What tells such cases apart, for a failure message: type, status, opening,
    whether the person has an INE, evidence."""
    return [(c["type"], c["status"], c["opened_on"], c["person"]["ine"] is not None,
             [(e["event_type"], e["event_date"]) for e in c["evidence"]]) for k, c in sorted(cases.items()) if k in ids][:10]


# Loaded by one worker's interpreter (PYTHONPATH): the group coordinator never seems to
# have heard from it lately, as after a freeze longer than the session timeout, when the
# broker may have expelled it while it still runs (bench/churn.py --freeze-share).
SILENT = '''
import time
from hub.worker.transport import RewindingConsumer

RewindingConsumer.group_answered = lambda self: setattr(self, "answered_at", time.monotonic() - 3600)
'''


def test_a_worker_the_group_has_not_heard_from_writes_nothing_and_loses_nothing(worker_env, unique, tmp_path):
    """Such a worker waits before any write for a heartbeat the group accepts (here none
    ever is) and gives its batch up at the rebalance that follows, when another member
    joins: the cases are those of an engine alone. Before, a member woken from a freeze
    finished its batch, writing the changelog and cases of partitions another member had
    taken over (README, "Status")."""
    env = worker_env
    b = base(env)
    tag = f"MUET{unique.upper()}"
    produce(env, f.bulk(300, tag, b, seed=9), watermarks={s: b + 200 * D for s in CLOCK_SOURCES})

    start = offsets(env)
    run_worker({**env, "HUB_WORKER_ID": env["HUB_WORKER_ID"] + "-alone", "HUB_HOME": str(tmp_path / "alone")})
    alone = written_since(env, start, tag)

    start = offsets(env)
    folder = tmp_path / "silent"
    hook = folder / "hook"
    hook.mkdir(parents=True)
    (hook / "sitecustomize.py").write_text(SILENT)
    path = os.pathsep.join(x for x in (str(hook), os.environ.get("PYTHONPATH", "")) if x)
    logs = [folder / "silent.log", folder / "other.log"]
    silent = start_worker({**env, "HUB_HOME": str(folder / "silent"), "PYTHONPATH": path}, logs[0])
    other = None
    try:
        group = env["HUB_WORKER_ID"]
        wait_for(lambda: asyncio.run(_group(env, group)) == ("Stable", 1), "the silent worker in the group", 120, logs)
        time.sleep(3)  # it takes its first batch, and waits
        other = start_worker({**env, "HUB_HOME": str(folder / "other")}, logs[1])

        def abandoned() -> list[dict]:
            lines = [json.loads(x) for x in logs[0].read_text(errors="replace").splitlines() if x.startswith("{")]
            return [x for x in lines if x["event"].startswith("batch abandoned")]

        wait_for(abandoned, "the silent worker giving its batch up", 120, logs)
        assert {x["reason"] for x in abandoned()} <= {
            "a rebalance begins while the group has not heard from this worker", "a rebalance happened"}
        silent.send_signal(signal.SIGTERM)
        assert silent.wait(timeout=60) == 0, timeline(logs[0])
        wait_until_idle(env, group, "the other worker idle", 120, logs)
    finally:
        for proc in (silent, other):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
    got = written_since(env, start, tag)
    live = {k: r for k, r in alone[CASES].items() if r is not None}
    assert len(live) > 10
    assert {k: r for k, r in got[CASES].items() if r is not None} == live, "\n".join(timeline(x) for x in logs)
