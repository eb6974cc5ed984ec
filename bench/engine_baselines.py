"""The baselines of bench/engine.py, each run as its own process by it.

    python bench/engine_baselines.py MODE TOTAL RESULT.json [--app-id ID] [--datadir DIR]

Every mode reads the five person-keyed source topics from the beginning and stops once it
has seen TOTAL records (the events bench/engine.py published), then writes
{"count", "t_start", "t_first", "t_last", "rss_mb"} to RESULT.json (times are
`time.time()`: t_start when the process had imported what it needs, t_first at the first
record, t_last at the TOTAL-th).

- `raw`: the ceiling — one aiokafka consumer (no group: every partition assigned, from the
  beginning) that only decodes every record with the hub codec.
- `bare`: a Faust agent that only iterates (`async for _ in stream`), its own app id and
  consumer group, with Faust's own fetch loop (`Consumer._drain_messages`): the
  framework's ceiling.
- `bare-hub`: the same agent with the engine's fetch loop
  (`hub.worker.transport.RewindingConsumer._drain_messages`, no tasks per record).
- `naive`: a Faust agent that decodes every record (`codec.decode`, a dict) and writes one
  entry per event in a RocksDB table (key = event id, value = the pickled dict; the
  engine's RocksDB options), its own app id.

The Faust apps are the engine's own (`hub.worker.app.new_app`: the same producer —
idempotent, acks=all, 5 ms linger, the same buffer —, commit interval, partitions, raw
serializers, RocksDB store), so the ratios measure what the engine does per record, not
configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PERSON_SOURCES = ("rectorat", "absenteisme", "mission-locale", "cfa", "cti")


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_result(path: Path, **values) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**values, "rss_mb": peak_rss_mb()}))
    tmp.replace(path)


async def run_raw(total: int, result: Path) -> None:
    from aiokafka import TopicPartition

    from hub.avro import get_codec
    from hub.kafka import client
    from hub.types.events import SOURCE_TOPICS

    decode = get_codec().decode
    consumer = client.consumer(group_id=None)
    t_start = time.time()
    await consumer.start()
    try:
        tps = []
        for source in PERSON_SOURCES:
            topic = SOURCE_TOPICS[source]
            tps += [TopicPartition(topic, p) for p in await client.topic_partitions(consumer, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count = 0
        t_first = None
        while count < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                if t_first is None and records:
                    t_first = time.time()
                for record in records:
                    decode(record.value)
                count += len(records)
        t_last = time.time()
    finally:
        await client.stop_consumer(consumer)
    write_result(result, count=count, t_start=t_start, t_first=t_first, t_last=t_last)


def run_faust(mode: str, total: int, result: Path, app_id: str, datadir: Path) -> int:
    import faust

    from hub.avro import get_codec
    from hub.settings import get_settings
    from hub.types.events import SOURCE_TOPICS
    from hub.worker.app import new_app
    from hub.worker.tables import BLOCK_CACHE, WRITE_BUFFER, WRITE_BUFFERS

    if mode in ("bare", "naive"):  # Faust's own fetch loop (the engine's is for `bare-hub`)
        from faust.transport.drivers.aiokafka import Consumer

        from hub.worker.transport import RewindingConsumer

        RewindingConsumer._drain_messages = Consumer._drain_messages

    settings = get_settings()
    partitions = int(os.environ.get("BENCH_PARTITIONS", settings.topic_partitions))
    datadir.mkdir(parents=True, exist_ok=True)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = new_app(settings, app_id, partitions, datadir)  # the engine's own configuration
    raw = dict(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    channel = app.topic(*(SOURCE_TOPICS[s] for s in PERSON_SOURCES), **raw)
    state = {"count": 0, "t_first": None, "t_start": time.time()}

    def done() -> None:
        write_result(result, count=state["count"], t_start=state["t_start"], t_first=state["t_first"],
                     t_last=time.time())
        os.kill(os.getpid(), signal.SIGTERM)

    if mode in ("bare", "bare-hub"):

        @app.agent(channel, concurrency=1, name="bench-bare")
        async def bare(stream):
            count = 0
            async for _ in stream:
                if count == 0:
                    state["t_first"] = time.time()
                count += 1
                if count == total:
                    state["count"] = count
                    done()

    else:
        # Sized as the engine's own tables (hub/worker/tables.py), not Faust's defaults.
        options = dict(write_buffer_size=WRITE_BUFFER, max_write_buffer_number=WRITE_BUFFERS,
                       block_cache_size=BLOCK_CACHE)
        table = app.Table("naive", partitions=partitions, options=options, key_type=bytes, value_type=bytes)
        decode = get_codec().decode

        @app.agent(channel, concurrency=1, name="bench-naive")
        async def naive(stream):
            count = 0
            async for value in stream:
                if count == 0:
                    state["t_first"] = time.time()
                event = decode(value)
                table[event["event_id"].encode()] = pickle.dumps(event, protocol=5)
                count += 1
                if count == total:
                    state["count"] = count
                    done()

    worker = faust.Worker(app, loop=loop, quiet=True, override_logging=False, redirect_stdouts=False,
                          stdout=sys.stderr, stderr=sys.stderr, loglevel="WARNING")
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("raw", "bare", "bare-hub", "naive"))
    ap.add_argument("total", type=int)
    ap.add_argument("result", type=Path)
    ap.add_argument("--app-id", default="bench-baseline")
    ap.add_argument("--datadir", type=Path, default=Path("bench-baseline-data"))
    args = ap.parse_args()
    if args.mode == "raw":
        asyncio.run(run_raw(args.total, args.result))
    else:
        code = run_faust(args.mode, args.total, args.result, args.app_id, args.datadir)
        if not args.result.exists():
            raise SystemExit(code or 1)


if __name__ == "__main__":
    main()
