"""Helpers of the worker tests on the real broker.

Each module here has a broker of its own (`kafka_broker` below): every worker test reads
every source topic from the start (a consumer group of its own), and on the session's
broker it read again all that the tests before it had published — ≈ 90 s of the 250 s
of test_worker.py in a whole run. Within a module the broker, its topics and the hub's
clock are shared, so every test here:

- names its young people after a unique tag and reads back only their cases;
- dates its events after the hub's current clock (`base()`), so that whatever other
  tests published before, the clock it moves is the one its expectations assume;
- loads the *sample* directory (the one every test loads), so it never changes the
  directory other tests see.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from hub.avro import get_codec
from hub.identity import person_key
from hub.kafka import client
from hub.kafka.compacted import read_table
from hub.kafka.topics import CASES, WATERMARKS, observatory_topic
from hub.settings import Settings
from hub.types.events import CLOCK_SOURCES, SOURCE_TOPICS
from tests.conftest import REPO, own_broker, run_hub
from hub.worker.records import to_json_obj
from tests.worker import factory as f

SAMPLE_DIRECTORY = REPO / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"


def settings_for(env: dict) -> Settings:
    return Settings(kafka_bootstrap=env["HUB_KAFKA_BOOTSTRAP"], home=Path(env["HUB_HOME"]))


@pytest.fixture(scope="module")
def kafka_broker(tmp_path_factory):
    """A broker for this module's tests only (see the module doc)."""
    with own_broker(tmp_path_factory, "worker-kafka", "512m") as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def prepared(kafka_broker, tmp_path_factory) -> dict:
    """Topics applied and the sample directory loaded, once per module."""
    env = {**os.environ, "HUB_KAFKA_BOOTSTRAP": kafka_broker, "HUB_HOME": str(tmp_path_factory.mktemp("home"))}
    for args in (("topics", "apply"), ("directory", "load", str(SAMPLE_DIRECTORY))):
        done = run_hub(*args, env=env)
        assert done.returncode == 0, done.stderr
    return env


@pytest.fixture
def worker_env(prepared, tmp_path, unique) -> dict:
    """An environment with a worker id (consumer group, local state) of its own."""
    return {**prepared, "HUB_HOME": str(tmp_path / "home"), "HUB_WORKER_ID": f"test-worker-{unique}"}


# -- producing ------------------------------------------------------------------------------


def produce(env: dict, events: list[dict] = (), watermarks: dict[str, date] | None = None) -> None:
    """Publish events on their source topics (keyed as the connectors key them) and
    watermarks, as the connectors' Kafka sink does."""

    async def go() -> None:
        settings = settings_for(env)
        codec = get_codec()
        producer = client.producer(settings)
        await producer.start()
        try:
            for e in events:
                if e["event_type"] == "ACTION_SUIVI":
                    key = e["case_id"]
                else:
                    p = e["person"]
                    key = person_key(p["ine"], p["nom"], p["prenom"], p["date_naissance"], settings.pseudonym_secret)
                await producer.send(SOURCE_TOPICS[e["source"]], codec.encode_event(e), key=key.encode())
            for source, as_of in (watermarks or {}).items():
                await producer.send(WATERMARKS, codec.encode("watermark", f.watermark(source, as_of)),
                                    key=source.encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(go())


def clock_to(env: dict, as_of: date) -> None:
    produce(env, watermarks={s: as_of for s in CLOCK_SOURCES})


def base(env: dict) -> date:
    """A date after every watermark published so far (the hub's clock never goes back)."""
    codec = get_codec()
    table = asyncio.run(read_table(WATERMARKS, settings_for(env)))
    seen = [codec.decode(v)["as_of"] for v in table.values()]
    return max([date(2026, 1, 1), *seen]) + timedelta(days=1)


def years_before(day: date, years: int, days: int = 0) -> date:
    return date(day.year - years, day.month, min(day.day, 28)) - timedelta(days=days)


# -- running and reading ------------------------------------------------------------------------


def run_worker(env: dict, timeout: float = 240) -> float:
    started = time.monotonic()
    try:
        done = run_hub("worker", "--until-idle", env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"").decode(errors="replace")[-6000:]
        raise AssertionError(f"hub worker --until-idle still running after {timeout}s:\n{tail}") from None
    assert done.returncode == 0, done.stderr[-4000:]
    return time.monotonic() - started


def cases(env: dict, *args: str, names: tuple[str, ...] | str = ()) -> list[str]:
    """`hub cases --format jsonl` lines, only those of people whose name starts with one
    of `names`, and the TRANSFERE records (which have no person) of their cases."""
    names = (names,) if isinstance(names, str) else names
    lines = _cases_jsonl(env, *args)
    if not names:
        return lines
    mine = {c["case_id"] for c in map(json.loads, _cases_jsonl(env) if args else lines)
            if c["person"] is not None and c["person"]["nom"].startswith(names)}
    out = []
    for line in lines:
        c = json.loads(line)
        person = c["person"]
        if (person is None and c["case_id"] in mine) or (person is not None and person["nom"].startswith(names)):
            out.append(line)
    return out


def _cases_jsonl(env: dict, *args: str) -> list[str]:
    done = run_hub("cases", "--format", "jsonl", *args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def case_lines(env: dict, case_ids, *args: str) -> list[str]:
    ids = set(case_ids)
    return [line for line in cases(env, *args) if json.loads(line)["case_id"] in ids]


def end_offsets(env: dict, topic: str) -> dict[int, int]:
    async def go() -> dict[int, int]:
        consumer = client.consumer(settings=settings_for(env))
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()  # noqa: SLF001 — as hub.kafka.compacted
                parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            consumer.assign(tps)
            return {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    return asyncio.run(go())


def read_since(env: dict, topic: str, start: dict[int, int]) -> dict[str, bytes | None]:
    """Latest value per key among the records written after `start` (tombstones kept)."""

    async def go() -> dict[str, bytes | None]:
        consumer = client.consumer(settings=settings_for(env))
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in sorted(start)]
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, start[tp.partition])
            latest: dict[str, bytes | None] = {}
            remaining = {tp for tp in tps if ends[tp] > start[tp.partition]}
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=1000)
                for tp, records in batches.items():
                    for r in records:
                        if r.offset < ends[tp]:
                            latest[r.key.decode()] = r.value
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
            return latest
        finally:
            await consumer.stop()

    return asyncio.run(go())


def committed(env: dict, group: str, topics: list[str]) -> int:
    """Sum of the group's committed offsets on `topics`."""

    async def go() -> int:
        admin = client.admin(settings_for(env))
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return sum(o.offset for tp, o in offsets.items() if tp.topic in topics and o.offset > 0)

    return asyncio.run(go())


def start_worker(env: dict) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "hub"
    return subprocess.Popen([str(exe), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


# -- case outputs since a point --------------------------------------------------------

OBSERVATORIES = ("OBS-16", "OBS-17", "OBS-79", "OBS-86")


def topics() -> list[str]:
    """cases.v1 and the sample directory's observatory topics."""
    return [CASES, *(observatory_topic(o) for o in OBSERVATORIES)]


def offsets(env: dict) -> dict[str, dict[int, int]]:
    return {t: end_offsets(env, t) for t in topics()}


def written_since(env: dict, start: dict[str, dict[int, int]], tag: str) -> dict[str, dict[str, dict | None]]:
    """Per topic, the latest record (decoded; None = tombstone) of each of this test's
    case ids written after `start`. A TRANSFERE record has no person: it counts as
    this test's if the case id is one of this test's on cases.v1."""
    codec = get_codec()
    out: dict[str, dict[str, dict | None]] = {}
    latest = {t: read_since(env, t, start[t]) for t in topics()}
    decoded = {t: {k: (to_json_obj(codec.decode(v)) if v is not None else None) for k, v in records.items()}
               for t, records in latest.items()}
    ids = {k for k, r in decoded[CASES].items() if r is not None and r["person"]["nom"].startswith(tag)}
    for t, records in decoded.items():
        out[t] = {k: r for k, r in records.items()
                  if k in ids or (r is not None and r["person"] is not None and r["person"]["nom"].startswith(tag))}
    return out
