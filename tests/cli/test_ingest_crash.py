"""`hub ingest` killed (-9) while it publishes, then run again: nothing lost, nothing twice.

The truth of what is published is the topic itself (hub/kafka/seen.py): the second run
reads the event ids the first one left there, counts them `unchanged` and publishes the
others. So after the kill and the second run the topic holds every record of the file
exactly once, and the counts add up. For SIECLE the killed run saved no snapshot; the
second one does, and the next export diffs against it. The CSV run's forked parse
workers do not outlive it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from hub.kafka import client
from hub.kafka.seen import EVENT_ID_HEADER
from tests.cli.test_ingest import ingest
from tests.cli.test_ingest_sources import ABS_HEADER, TOPICS, counts_of, offsets, records_since, tag
from tests.conftest import hub_exe, run_hub
from tests.connectors.helpers import fresh_uai
from tests.connectors.siecle_files import eleve, export, write

pytestmark = pytest.mark.kafka


def start_ingest(env: dict, source: str, path: Path) -> subprocess.Popen:
    return subprocess.Popen([hub_exe(), "ingest", source, str(path), "--json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def kill_mid_publish(proc: subprocess.Popen, topic: str, before: dict, total: int) -> int:
    """kill -9 `proc` once a quarter of `total` records reached `topic`; how many had."""
    consumer = client.consumer()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await client.topic_partitions(consumer, topic)]

        async def landed() -> int:
            return sum(end - before.get(tp, 0) for tp, end in (await consumer.end_offsets(tps)).items())

        while await landed() < total // 4:
            assert proc.poll() is None, f"the ingest ended before it could be killed: {proc.stderr.read()!r}"
            await asyncio.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        await asyncio.sleep(1)  # what the dead producer left in its socket reaches the log
        n = await landed()
        for _ in range(100):  # its forked parse workers end too (they would block for ever)
            if not processes_of(proc.args):
                break
            await asyncio.sleep(0.1)
        assert not processes_of(proc.args), "a parse worker outlived its ingest"
    finally:
        await client.stop_consumer(consumer)
    assert 0 < n < total, f"killed with {n} of {total} records on the topic: the test proves nothing"
    return n


def processes_of(args: list[str]) -> list[int]:
    """Pids of the processes running the command line `args` (Linux: /proc)."""
    wanted = "\0".join(args).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def event_ids(records: list) -> list[str]:
    return [dict(r.headers)[EVENT_ID_HEADER].decode() for r in records]


@pytest.fixture
def env(fresh_hub_env):
    # A broker of its own: on the session's, every later `hub worker` test (a consumer
    # group of its own each) would read these 190,000 events again — minutes of suite.
    # The topics exist before the first offsets are noted (an ingest would create them).
    assert run_hub("topics", "apply", env=fresh_hub_env).returncode == 0
    return fresh_hub_env


async def kill_then_run_again(env: dict, source: str, path: Path, n: int) -> None:
    """Kill -9 an ingest of `path` (n records, one event each) while it publishes, run it
    again: the counts add up and the topic holds each of the n events exactly once."""
    topic = TOPICS[source]
    before = await offsets(topic)
    landed = await kill_mid_publish(start_ingest(env, source, path), topic, before, n)
    again = ingest(env, source, path)
    assert counts_of(again) == (n, n - landed, landed, 0, 0, 0, n - landed)
    ids = event_ids(await records_since(topic, before))
    assert len(ids) == n and len(set(ids)) == n


async def test_a_csv_ingest_killed_while_publishing_loses_and_repeats_nothing(env, tmp_path):
    t, lp = tag(), fresh_uai()
    n = 150_000  # ≈ 7 MB: read by the forked parse workers (connectors/core/parallel.py)
    path = tmp_path / f"abs-{t}.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write(ABS_HEADER + "\n")
        for i in range(n):
            f.write(f"{lp};;N{t}{i};Zoé;05/05/2008;2026-01;{4 + i % 20};0\n")
    await kill_then_run_again(env, "absenteisme", path, n)
    assert counts_of(ingest(env, "absenteisme", path)) == (n, 0, n, 0, 0, 0, 0)


async def test_a_siecle_ingest_killed_while_publishing_loses_and_repeats_nothing(env, tmp_path):
    t, uaj = tag(), fresh_uai()
    n = 40_000  # one establishment's snapshot kept in memory (state.MEMORY_LIMIT)
    pupils = [eleve(f"{t}{i}", nom=f"N{t}{i}") for i in range(n)]
    first = write(tmp_path / f"s1-{t}.xml", export(pupils, uaj=uaj, date_export="15/03/2026"))
    await kill_then_run_again(env, "rectorat", first, n)

    # The second run saved the snapshot: a newer export without pupil 0 is one exit.
    topic = TOPICS["rectorat"]
    after = await offsets(topic)
    newer = write(tmp_path / f"s2-{t}.xml", export(pupils[1:], uaj=uaj, date_export="20/03/2026"))
    assert counts_of(ingest(env, "rectorat", newer)) == (n - 1, 0, n - 1, 0, 0, 0, 1)
    exits = await records_since(topic, after)
    assert [dict(r.headers)["event_type"] for r in exits] == [b"ELEVE_SORTI"]
