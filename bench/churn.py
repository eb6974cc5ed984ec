"""Churn: a worker group stopped and started at random while the demo year is ingested
gives the cases of one worker alone. Not a benchmark: a stress run that anyone can repeat.

    .venv/bin/python bench/churn.py [--people 20000] [--seed 11] [--members 3]
                                    [--kill-share 0.4] [--freeze-share 0] [--pause 1-8]
                                    [--after 40] [--runs 1] [--workdir DIR]

An embedded Kafka 4 broker is started per run in `--workdir` (a temporary directory by
default) and stopped at the end. Each run:

1. generates the demo year (`hub.demo.generate`, `--people` young people) once, applies
   the topics and loads the sample directory;
2. starts `--members` slots of `hub worker` (one consumer group, each slot its own
   HUB_HOME, kept across its restarts as a machine's disk would be) and, while the five
   sources are ingested with `hub ingest` and for `--after` seconds more, every 1–8 s
   (`--pause`) picks a slot at random: starts it if it is down, else stops it with
   SIGTERM, or kill -9 with probability `--kill-share`, or freezes it (SIGSTOP, then
   SIGCONT 12–20 s later: longer than the 10 s session timeout, so the group expels a
   member that still runs when it wakes up) with probability `--freeze-share`;
3. stops the group, runs `hub worker --until-idle` on slot 0, then a reference engine
   (another worker id: its own group, state and internal topic) alone until idle;
4. compares what each wrote on cases.v1 (the latest record per case id each wrote):
   cases missing from the group, extra, different. The seed of the schedule is the
   run's number; the interleaving still depends on timing.

This is the audit that found (2026-12-06) the group losing 100–870 of 6,472 cases, and
showed (2026-12-07) where: after a rebalance, a fetch made before it came back after
Faust had sought the partitions to their committed offsets, and the engine took its
records for the first ones after the seek (hub/worker/transport.py); and (2026-12-08,
with a trace of every table restore) workers restoring partitions with hundreds of
changelog records missing — Faust's table recovery lets a jump in a changelog pass for a
hole of compaction — then writing states that lacked a person's events or the
partition's clock: the engine now restores its tables itself (hub/worker/tables.py).
Exit status 1 when a run differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402

from hub.demo.generate import generate  # noqa: E402
from hub.kafka.embedded import EmbeddedKafka, free_port  # noqa: E402
from hub.kafka.topics import CASES  # noqa: E402
from hub.settings import Settings  # noqa: E402

HUB = str(Path(sys.executable).parent / "hub")
SAMPLE = REPO / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"


class Run:
    def __init__(self, folder: Path, env: dict, args) -> None:
        self.folder, self.env, self.args = folder, env, args
        self.log = (folder / "events.log").open("w")
        self.t0 = time.monotonic()
        self.procs: dict[int, subprocess.Popen] = {}
        self.frozen: dict[int, float] = {}  # slot → when to wake it up (monotonic)
        self.starts = 0

    def note(self, text: str) -> None:
        self.log.write(f"[{time.monotonic() - self.t0:8.2f}] {text}\n")
        self.log.flush()

    def hub(self, *argv: str, env: dict | None = None, timeout: float = 900) -> str:
        done = subprocess.run([HUB, *argv], env=env or self.env, capture_output=True, text=True, timeout=timeout)
        self.note(f"hub {' '.join(argv)}: exit {done.returncode}")
        if done.returncode:
            raise SystemExit(f"hub {' '.join(argv)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def start(self, slot: int) -> None:
        self.starts += 1
        log = self.folder / f"slot{slot}.{self.starts}.log"
        self.procs[slot] = subprocess.Popen([HUB, "worker"], env={**self.env, "HUB_HOME": str(self.folder / f"slot{slot}")},
                                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))
        self.note(f"slot {slot} started ({log.name})")

    def stop(self, slot: int, sig: int) -> None:
        proc = self.procs[slot]
        proc.send_signal(sig)
        if sig == signal.SIGTERM:
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = "still running after 60 s: killed"
            self.note(f"slot {slot} SIGTERM: exit {code}")
        else:
            proc.wait()
            self.note(f"slot {slot} kill -9")

    def freeze(self, slot: int, seconds: float) -> None:
        self.procs[slot].send_signal(signal.SIGSTOP)
        self.frozen[slot] = time.monotonic() + seconds
        self.note(f"slot {slot} SIGSTOP for {seconds:.1f} s")

    def wake(self, slot: int) -> None:
        self.frozen.pop(slot)
        self.procs[slot].send_signal(signal.SIGCONT)
        self.note(f"slot {slot} SIGCONT")

    def churn(self, rng: random.Random, done: threading.Event) -> None:
        low, high = self.args.pause
        self.start(0)
        while not done.wait(rng.uniform(low, high)):
            for slot, at in list(self.frozen.items()):
                if time.monotonic() >= at:
                    self.wake(slot)
            slot = rng.randrange(self.args.members)
            proc = self.procs.get(slot)
            if slot in self.frozen:
                continue
            if proc is None or proc.poll() is not None:
                self.start(slot)
                continue
            draw = rng.random()
            if draw < self.args.kill_share:
                self.stop(slot, signal.SIGKILL)
            elif draw < self.args.kill_share + self.args.freeze_share:
                self.freeze(slot, rng.uniform(12, 20))
            else:
                self.stop(slot, signal.SIGTERM)
        for slot in list(self.frozen):
            self.wake(slot)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    async def go():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()  # noqa: SLF001 — as hub.kafka.compacted
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(tps)  # stopping an unassigned consumer trips aiokafka 0.14
            return {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    return asyncio.run(go())


def written(bootstrap: str, topic: str, start: dict[int, int], end: dict[int, int]) -> dict[bytes, bytes | None]:
    """The latest value per key among the records of [start, end) (tombstones kept)."""

    async def go():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in sorted(end) if end[p] > start.get(p, 0)]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, start.get(tp.partition, 0))
            latest: dict[bytes, bytes | None] = {}
            left = set(tps)
            while left:
                for tp, records in (await consumer.getmany(*left, timeout_ms=1000)).items():
                    for r in records:
                        if r.offset < end[tp.partition]:
                            latest[r.key] = r.value
                for tp in list(left):
                    if await consumer.position(tp) >= end[tp.partition]:
                        left.discard(tp)
            return latest
        finally:
            await consumer.stop()

    return asyncio.run(go())


def one_run(number: int, folder: Path, data, args) -> bool:
    folder.mkdir(parents=True)
    broker = EmbeddedKafka(folder / "kafka", Settings().jar_cache)
    info = broker.start(free_port())
    env = {**os.environ, "HUB_KAFKA_BOOTSTRAP": info.bootstrap, "HUB_HOME": str(folder / "home"),
           "HUB_WORKER_ID": "churn"}
    run = Run(folder, env, args)
    try:
        run.hub("topics", "apply")
        run.hub("directory", "load", str(SAMPLE))
        done = threading.Event()
        churn = threading.Thread(target=run.churn, args=(random.Random(number), done))
        churn.start()
        try:
            for step in data.steps:
                argv = ["ingest", step.source, str(step.resolve(data.out_dir))]
                run.hub(*argv, *(["--as-of", step.as_of.isoformat()] if step.as_of else []))
            time.sleep(args.after)
        finally:
            done.set()
            churn.join()
            for slot, proc in run.procs.items():
                if proc.poll() is None:
                    run.stop(slot, signal.SIGTERM)
        start = {p: 0 for p in end_offsets(info.bootstrap, CASES)}
        run.hub("worker", "--until-idle", env={**env, "HUB_HOME": str(folder / "slot0")})
        middle = end_offsets(info.bootstrap, CASES)
        run.hub("worker", "--until-idle", env={**env, "HUB_WORKER_ID": "alone", "HUB_HOME": str(folder / "alone")})
        group = {k: v for k, v in written(info.bootstrap, CASES, start, middle).items() if v is not None}
        alone = {k: v for k, v in written(info.bootstrap, CASES, middle, end_offsets(info.bootstrap, CASES)).items()
                 if v is not None}
    finally:
        broker.stop()
    missing, extra = set(alone) - set(group), set(group) - set(alone)
    different = [k for k in set(alone) & set(group) if alone[k] != group[k]]
    same = not (missing or extra or different)
    result = {"run": number, "cases": len(alone), "missing": len(missing), "extra": len(extra),
              "different": len(different), "restarts": run.starts, "same": same}
    (folder / "result.json").write_text(json.dumps({**result, "missing_ids": sorted(k.decode() for k in missing)}))
    print(json.dumps(result), flush=True)
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=11, help="of the demo data")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--kill-share", type=float, default=0.4)
    parser.add_argument("--freeze-share", type=float, default=0.0,
                        help="share of SIGSTOP/SIGCONT (12-20 s) among the stops")
    parser.add_argument("--pause", type=lambda s: tuple(map(float, s.split("-"))), default=(1.0, 8.0),
                        help="seconds between two actions, LOW-HIGH")
    parser.add_argument("--after", type=float, default=40.0, help="seconds of churn after the ingest")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hub-churn-"))
    data = generate(workdir / "data", seed=args.seed, people=args.people, directory_path=SAMPLE)
    print(f"demo year: {args.people} young people, seed {args.seed}; runs in {workdir}", flush=True)
    results = [one_run(n, workdir / f"run{n}", data, args) for n in range(1, args.runs + 1)]
    print(f"{sum(results)} of {len(results)} runs gave the cases of one worker alone")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
