"""Throughput, latency and memory of the case engine (`hub worker`) against baselines.

    .venv/bin/python bench/engine.py [--events 1000000] [--bootstrap HOST:PORT]
                                     [--skip-baselines] [--skip-engine] [--skip-latency] [--skip-rss]
                                     [--latency-rate 1000] [--latency-seconds 30]
                                     [--rss-persons N] [--profile [FILE]] [--workdir DIR]

Without --bootstrap an embedded Kafka 4 broker is started in a temporary directory and
stopped at the end (with --bootstrap, use a fresh broker: everything on the source topics
is consumed and counted). The script applies the topics, loads the sample directory, then:

1. **Data.** A synthetic region-year (`bench/engine_data.py`): `--events` events of the
   five sources (default 1,000,000; rectorat ≈ 41 %, absenteisme ≈ 29 %, mission-locale
   ≈ 21 %, cfa ≈ 7 %, cti ≈ 2 %) over ≈ events / 1.9 young people, Avro-encoded and
   published on the source topics keyed by person key with the connectors' own sink
   (`hub.kafka.sink.KafkaSink`: same partitioner, headers, batches), month by month from
   September 2025 to June 2026, each month followed by the watermarks of the five sources
   at its last day (so the clock advances monthly and ends on 2026-06-30).
2. **Baselines**, same events, same run, each in its own process and consumer group until
   it has seen every event (`bench/engine_baselines.py`): (a) the raw ceiling, an aiokafka
   consumer that only decodes; (b) a bare Faust agent that only iterates, on Faust's own
   fetch loop (the framework's ceiling), and (b') the same on the engine's fetch loop
   (`hub.worker.transport`: no tasks per record), for reference; (c) a naive Faust agent
   that decodes and writes one RocksDB table entry per event.
3. **Engine**: `hub worker --until-idle`, its own HUB_WORKER_ID and HUB_HOME, as a
   subprocess. Two figures: start → exit (everything: topic checks, Faust start-up, the
   idle checks, shutdown), and first progress → all committed (the consumer group's
   committed offsets polled every 0.5 s: the first poll where a source offset moved, the
   first where every source partition and the engine's internal topic are committed to
   their end) — "steady", compared with the baselines' first record → last record.
   Peak RSS (VmHWM of the process, polled) and the keys left in its RocksDB state.
4. **RSS** (unless --skip-rss): enrolment-only pupils (one ELEVE_INSCRIT each) are added
   until the data set holds `--rss-persons` distinct young people (default: as many as
   `--events`, so 1,000,000 at the default size: a realistic region-year has about one
   person for two events, hence the top-up), and the same engine (same id, same state)
   runs `--until-idle` again: its peak RSS is the figure, with ≥ that many persons in state.
5. **Latency** (unless --skip-latency): the same engine as a plain `hub worker`; once it
   answers (a probe case arrives), `--latency-rate` triggering events a second — a CTI
   REPERAGE in a lycée professionnel (PREVENTION) or an apprenticeship rupture (RUPTURE)
   of a new 16–18-year-old, dated before the clock, so that the case opens at once — for
   a few seconds of warm-up then `--latency-seconds`; each latency is produce call →
   arrival of that case id on `observatoire.<CODE>.cases.v1` (a consumer in this process).
6. `--profile`: the engine again, fresh id, under cProfile, over the data of step 1
   (run before steps 4–5); prints the top 25 functions by cumulative and by own time.

Targets (issue 4): engine ≥ 0.5 × bare Faust, ≥ 3 × naive Faust; p99 ≤ 500 ms at 1,000
events/s; peak RSS ≤ 500 MB with 1,000,000 persons in state. The machine is shared, so
every throughput is printed with its ratio to the baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import pstats
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_data import CLOCK, MONTH_ENDS, SAMPLE, SOURCES, TOPICS, RegionYear, Spool, Triggers  # noqa: E402

TRIGGER_SERIAL = 15_000_000  # serials of the latency phase's young people (INEs unique below 16M)


def fmt(x: float) -> str:
    return f"{x:,.0f}"


def hub_exe() -> str:
    return shutil.which("hub", path=str(Path(sys.executable).parent)) or "hub"


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS (kB) of a live process, {} once it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def reap(proc: subprocess.Popen, *, block: bool) -> float | None:
    """Wait for `proc` (or check, without blocking); its CPU seconds (user + sys) once it
    has exited, None while it runs. Sets proc.returncode."""
    pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


# --------------------------------------------------------------------------- data


async def publish(spool: Spool, months: range, *, watermarks: bool) -> float:
    """Publish the spooled months in order (KafkaSink, as the connectors), each followed
    by the five sources' watermarks at its last day. Returns the seconds taken."""
    from hub.avro import get_codec
    from hub.kafka import client
    from hub.kafka.sink import KafkaSink
    from hub.kafka.topics import WATERMARKS

    codec = get_codec()
    t0 = time.perf_counter()
    sink = KafkaSink()
    await sink.start()
    producer = client.producer()
    await producer.start()
    try:
        append = sink._append  # noqa: SLF001 — the sink's own path for an already-encoded message
        for month in months:
            for topic, key, value, headers in spool.read(month):
                await append(topic, key, value, headers)
            await sink.flush()
            if watermarks:
                now = datetime.now(UTC)
                for source in SOURCES:
                    record = {"source": source, "as_of": MONTH_ENDS[month], "published_at": now}
                    await producer.send_and_wait(WATERMARKS, codec.encode("watermark", record), key=source.encode())
    finally:
        await producer.stop()
        await sink.stop()
    return time.perf_counter() - t0


async def source_offsets() -> tuple[dict, dict]:
    """(beginning, end) offsets of every partition of the five source topics."""
    from aiokafka import TopicPartition

    from hub.kafka import client

    consumer = client.consumer(group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in TOPICS for p in await client.topic_partitions(consumer, t)]
        return await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
    finally:
        await client.stop_consumer(consumer)


# --------------------------------------------------------------------------- baselines


def run_baseline(mode: str, total: int, work: Path, env: dict, run: str) -> dict:
    result = work / f"baseline-{mode}.json"
    log = work / f"baseline-{mode}.log"
    cmd = [sys.executable, str(Path(__file__).with_name("engine_baselines.py")), mode, str(total), str(result),
           "--app-id", f"bench-{mode}-{run}", "--datadir", str(work / f"baseline-{mode}-data")]
    t0 = time.time()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        cpu = reap(proc, block=True)
    t_exit = time.time()
    if not result.exists():
        raise SystemExit(f"baseline {mode} failed (exit {proc.returncode}):\n{tail(log)}")
    r = json.loads(result.read_text())
    r.update(t_popen=t0, t_exit=t_exit, wall=t_exit - t0, steady=r["t_last"] - r["t_first"], cpu=cpu)
    shutil.rmtree(work / f"baseline-{mode}-data", ignore_errors=True)
    return r


# --------------------------------------------------------------------------- engine


@dataclass
class EngineRun:
    label: str
    events: int
    wall: float = 0.0
    t_first: float | None = None
    t_done: float | None = None
    rss_mb: float = 0.0
    internal: int = 0  # messages on the engine's internal topic at the end
    cpu: float = 0.0  # CPU seconds (user + sys) of the process, start to exit
    code: int = 0
    state: dict = field(default_factory=dict)

    @property
    def steady(self) -> float | None:
        if self.t_first is None or self.t_done is None or self.t_done <= self.t_first:
            return None
        return self.t_done - self.t_first

    def rate(self) -> float:
        return self.events / (self.steady or self.wall)


async def watch_engine(cmd: list[str], env: dict, group: str, internal_topic: str, run: EngineRun, log: Path,
                       progress_every: float = 30.0) -> EngineRun:
    """Run the engine subprocess to its exit, polling its RSS and the group's offsets."""
    from aiokafka import TopicPartition

    from hub.kafka import client

    admin = client.admin()
    await admin.start()
    consumer = client.consumer(group_id=None)
    await consumer.start()
    try:
        src = [TopicPartition(t, p) for t in TOPICS for p in await client.topic_partitions(consumer, t)]
        src_end = await consumer.end_offsets(src)
        for attempt in range(120):  # a fresh broker creates __consumer_offsets on first use
            try:
                before = await admin.list_consumer_group_offsets(group)
                break
            except Exception:  # noqa: BLE001 — GroupCoordinatorNotAvailable while it is being created
                if attempt == 119:
                    raise
                await asyncio.sleep(0.5)
        base = sum(before[tp].offset for tp in src if tp in before)
        target = sum(src_end.values())
        internal: list[TopicPartition] = []
        t0 = time.time()
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        hwm = 0
        last_poll, last_print = 0.0, t0
        try:
            while (cpu := reap(proc, block=False)) is None:
                st = proc_status(proc.pid)
                hwm = max(hwm, st.get("VmHWM", 0))
                now = time.time()
                if now - last_poll >= 0.5 and (run.t_done is None or not internal):
                    last_poll = now
                    try:
                        committed = await admin.list_consumer_group_offsets(group)
                        done_src = sum(committed[tp].offset for tp in src if tp in committed)
                        if run.t_first is None and done_src > base:
                            run.t_first = now
                        if not internal:
                            parts = await client.topic_partitions(consumer, internal_topic)
                            internal = [TopicPartition(internal_topic, p) for p in parts]
                        all_src = all(tp in committed and committed[tp].offset >= src_end[tp] for tp in src)
                        if all_src and internal and run.t_done is None:
                            ends = await consumer.end_offsets(internal)
                            begins = await consumer.beginning_offsets(internal)
                            if all(ends[tp] <= begins[tp] or (tp in committed and committed[tp].offset >= ends[tp])
                                   for tp in internal):
                                run.t_done = now
                        if now - last_print >= progress_every:
                            last_print = now
                            print(f"  … {run.label}: {done_src - base:,}/{target - base:,} source events committed, "
                                  f"{now - t0:.0f} s, RSS {st.get('VmRSS', 0) / 1024:.0f} MB", flush=True)
                    except Exception as exc:  # noqa: BLE001 — a failed poll is retried
                        print(f"  (offset poll failed: {type(exc).__name__}: {exc})", flush=True)
                await asyncio.sleep(0.25)
        except BaseException:
            proc.kill()
            raise
        run.wall = time.time() - t0
        run.code = proc.returncode
        run.cpu = cpu
        run.rss_mb = hwm / 1024
        if internal:
            ends = await consumer.end_offsets(internal)
            run.internal = sum(ends.values())
    finally:
        await client.stop_consumer(consumer)
        await admin.close()
    if run.code != 0:
        raise SystemExit(f"{run.label}: the engine exited {run.code}:\n{tail(log)}")
    return run


def state_keys(home: Path, worker_id: str) -> dict:
    """Keys of the engine's `persons` table by kind (read-only, after the worker exited)."""
    try:
        from rocksdict import AccessType, Options, Rdict
    except ImportError:
        return {}
    counts: Counter[str] = Counter()
    for path in sorted((home / "worker" / worker_id).rglob("persons-*.db")):
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            for k in db.keys():
                if k.startswith(b"__due__"):
                    counts["due"] += 1
                elif k.startswith(b"__"):
                    counts["meta"] += 1
                elif k.startswith(b"n-"):
                    counts["name"] += 1
                else:
                    counts["ine"] += 1
        finally:
            db.close()
    return dict(counts)


def engine_env(env: dict, home: Path, worker_id: str) -> dict:
    return dict(env, HUB_HOME=str(home), HUB_WORKER_ID=worker_id)


# --------------------------------------------------------------------------- latency


@dataclass
class Latency:
    rate: float = 0.0
    sent: int = 0
    arrived: int = 0
    p50: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    ready_after: float = 0.0
    rss_mb: float = 0.0


async def latency_phase(env: dict, secret: str, rate: float, seconds: float, warmup: float, ready_timeout: float,
                        log: Path) -> Latency:
    from aiokafka import TopicPartition

    from hub.kafka import client

    n = int(rate * (warmup + seconds)) + 1000
    triggers = Triggers(secret, first_serial=TRIGGER_SERIAL)
    pre = [triggers.next() for _ in range(n)]  # made before the clock starts: pacing is not generation
    consumer = client.consumer(group_id=None)
    await consumer.start()
    producer = client.producer()
    await producer.start()
    result = Latency()
    waiting: dict[bytes, float] = {}
    arrivals: dict[bytes, float] = {}
    stop = asyncio.Event()

    async def consume() -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.perf_counter()
            for records in batches.values():
                for r in records:
                    if r.value is not None and r.key in waiting and r.key not in arrivals:
                        arrivals[r.key] = now

    with log.open("w") as out:
        proc = subprocess.Popen([hub_exe(), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    hwm = 0
    task = None
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith("observatoire.") and t.endswith(".cases.v1"))
        tps = [TopicPartition(t, p) for t in topics for p in await client.topic_partitions(consumer, t)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        task = asyncio.create_task(consume())
        it = iter(pre)

        async def send_one() -> bytes:
            topic, key, value, headers, cid, _ = next(it)
            waiting[cid.encode()] = time.perf_counter()
            await producer.send(topic, value, key=key, headers=headers)
            return cid.encode()

        # Ready: a probe every 2 s until one case comes back.
        t0 = time.perf_counter()
        probes: list[bytes] = []
        while not any(p in arrivals for p in probes):
            if proc.poll() is not None:
                raise SystemExit(f"the engine exited {proc.returncode} before answering:\n{tail(log)}")
            if time.perf_counter() - t0 > ready_timeout:
                raise SystemExit(f"no case came back within {ready_timeout:.0f} s:\n{tail(log)}")
            probes.append(await send_one())
            for _ in range(20):
                hwm = max(hwm, proc_status(proc.pid).get("VmHWM", 0))
                await asyncio.sleep(0.1)
                if probes[-1] in arrivals:
                    break
        result.ready_after = time.perf_counter() - t0
        # Steady rate: warm-up (not measured), then the measured window.
        measured: list[bytes] = []
        start = time.perf_counter()
        sent = 0
        while True:
            elapsed = time.perf_counter() - start
            if elapsed >= warmup + seconds:
                break
            due = int(elapsed * rate) + 1
            while sent < due:
                cid = await send_one()
                sent += 1
                if elapsed >= warmup:
                    measured.append(cid)
            hwm = max(hwm, proc_status(proc.pid).get("VmHWM", 0))
            await asyncio.sleep(0.005)
        await producer.flush()
        # Drain: until every measured case arrived, or no progress for 15 s (60 s at most).
        end = time.perf_counter()
        last, last_change = -1, end
        while time.perf_counter() - end < max(60.0, seconds):
            got = sum(1 for c in measured if c in arrivals)
            if got == len(measured):
                break
            if got != last:
                last, last_change = got, time.perf_counter()
            elif time.perf_counter() - last_change > 15:
                break
            hwm = max(hwm, proc_status(proc.pid).get("VmHWM", 0))
            await asyncio.sleep(0.1)
        lat = sorted(arrivals[c] - waiting[c] for c in measured if c in arrivals)
        result.rate = len(measured) / seconds
        result.sent = len(measured)
        result.arrived = len(lat)
        if lat:
            result.p50 = lat[len(lat) // 2]
            result.p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            result.max = lat[-1]
        result.rss_mb = hwm / 1024
    finally:
        stop.set()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
        await client.stop_consumer(consumer)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return result


# --------------------------------------------------------------------------- profile


def print_profile(path: Path, top: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    out.write(f"\n--- top {top} of the hub's own functions by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(r"/hub/", top)
    stats.strip_dirs()
    for key in ("cumulative", "tottime"):
        out.write(f"\n--- top {top} by {key} ---\n")
        stats.sort_stats(key).print_stats(top)
    return out.getvalue()


# --------------------------------------------------------------------------- main


def setup(env: dict) -> None:
    for cmd in (["topics", "apply"], ["directory", "load", str(SAMPLE)]):
        proc = subprocess.run([hub_exe(), *cmd], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"hub {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="Details: see the module docstring (bench/engine.py).")
    ap.add_argument("--events", type=int, default=1_000_000, help="events of the region-year (default 1,000,000)")
    ap.add_argument("--bootstrap", help="an existing, fresh Kafka (default: start an embedded broker)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--skip-baselines", action="store_true", help="no raw/bare/naive baselines")
    ap.add_argument("--skip-engine", action="store_true", help="data and baselines only (implies no RSS, latency)")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-rss", action="store_true", help="no top-up to --rss-persons (RSS of the main run only)")
    ap.add_argument("--rss-persons", type=int, help="persons in state for the RSS figure (default: --events)")
    ap.add_argument("--latency-rate", type=float, default=1000.0, help="triggering events per second")
    ap.add_argument("--latency-seconds", type=float, default=30.0, help="measured window")
    ap.add_argument("--latency-warmup", type=float, default=5.0)
    ap.add_argument("--ready-timeout", type=float, default=600.0, help="seconds to wait for the engine to answer")
    ap.add_argument("--profile", nargs="?", const="", metavar="FILE",
                    help="also run the engine under cProfile (stats to FILE, default in the work dir)")
    ap.add_argument("--workdir", type=Path, help="where files go (default: a temporary directory, removed)")
    args = ap.parse_args()

    from hub.settings import Settings, get_settings

    work = args.workdir or Path(tempfile.mkdtemp(prefix="hub-bench-engine-"))
    work.mkdir(parents=True, exist_ok=True)
    run = f"{random.randrange(16**6):06x}"
    broker = None
    bootstrap = args.bootstrap
    t_begin = time.time()
    if not bootstrap:
        from hub.kafka.embedded import EmbeddedKafka, free_port

        broker = EmbeddedKafka(work / "kafka", Settings().jar_cache)
        bootstrap = broker.start(free_port(), heap="1g").bootstrap
        print(f"embedded Kafka on {bootstrap} ({work / 'kafka'})", flush=True)
    env = dict(os.environ, HUB_KAFKA_BOOTSTRAP=bootstrap, HUB_HOME=str(work / "home"))
    os.environ.update(HUB_KAFKA_BOOTSTRAP=bootstrap, HUB_HOME=str(work / "home"))
    get_settings.cache_clear()
    settings = get_settings()
    secret = settings.pseudonym_secret
    figures: dict = {}
    try:
        setup(env)

        # 1. data -------------------------------------------------------------------------
        t0 = time.perf_counter()
        gen = RegionYear(args.events, secret, seed=args.seed)
        spool = Spool(work / "spool")
        gen.generate(spool)
        spool.close()
        t_gen = time.perf_counter() - t0
        t_pub = asyncio.run(publish(spool, range(len(MONTH_ENDS)), watermarks=True))
        spool.remove()
        begin, end = asyncio.run(source_offsets())
        total = sum(end.values()) - sum(begin.values())
        mix = ", ".join(f"{s} {gen.by_source[s] / gen.events:.0%}" for s in SOURCES)
        print(f"data: {gen.events:,} events over {gen.persons:,} young people ({mix}); "
              f"generated+encoded in {t_gen:.1f} s, published in {t_pub:.1f} s "
              f"({fmt(gen.events / t_pub)} ev/s); clock → {CLOCK}", flush=True)
        print("      by type: " + ", ".join(f"{t} {n:,}" for t, n in gen.by_type.most_common()), flush=True)
        if total != gen.events:
            print(f"      note: the source topics hold {total:,} records (not a fresh broker): all are counted",
                  flush=True)

        # 2. baselines ---------------------------------------------------------------------
        base: dict[str, dict] = {}
        if not args.skip_baselines:
            for mode, label in (("raw", "raw aiokafka + decode"), ("bare", "bare Faust agent"),
                                ("bare-hub", "bare, the engine's fetch loop"),
                                ("naive", "naive Faust (decode + table)")):
                r = run_baseline(mode, total, work, env, run)
                base[mode] = r
                print(f"{label:<30} {total / r['steady']:>9,.0f} ev/s first→last record ({r['steady']:.1f} s), "
                      f"{total / r['wall']:>9,.0f} ev/s start→exit ({r['wall']:.1f} s), "
                      f"CPU {r['cpu']:.1f} s ({r['cpu'] / total * 1e6:,.0f} µs/event), peak RSS {r['rss_mb']:.0f} MB",
                      flush=True)

        if args.skip_engine:
            return
        # 3. engine --------------------------------------------------------------------------
        from hub.kafka.topics import internal_topic_name

        engine_id = f"bench-engine-{run}"
        engine_home = work / "engine-home"
        eenv = engine_env(env, engine_home, engine_id)
        internal = internal_topic_name(Settings(worker_id=engine_id))
        main_run = EngineRun("engine", total)
        asyncio.run(watch_engine([hub_exe(), "worker", "--until-idle"], eenv, engine_id, internal, main_run,
                                 work / "engine.log"))
        main_run.state = state_keys(engine_home, engine_id)
        steady = main_run.steady
        print(f"{'engine (hub worker --until-idle)':<30} "
              + (f"{total / steady:>9,.0f} ev/s first progress→all committed ({steady:.1f} s), " if steady else "")
              + f"{total / main_run.wall:>9,.0f} ev/s start→exit ({main_run.wall:.1f} s), "
              f"CPU {main_run.cpu:.1f} s ({main_run.cpu / total * 1e6:,.0f} µs/event), peak RSS {main_run.rss_mb:.0f} MB; {main_run.internal:,} internal messages; state keys {main_run.state}",
              flush=True)
        figures["engine"] = main_run
        if base:
            e_rate = main_run.rate()
            e_wall = total / main_run.wall
            for mode, target, cmp in (("bare", 0.5, "≥"), ("naive", 3.0, "≥"), ("bare-hub", None, ""),
                                      ("raw", None, "")):
                b = base[mode]
                r_steady = e_rate / (total / b["steady"])
                r_wall = e_wall / (total / b["wall"])
                ok = "" if target is None else (" ok" if r_steady >= target else " BELOW TARGET")
                print(f"  engine / {mode:<5} = {r_steady:.2f} steady, {r_wall:.2f} start→exit"
                      + (f"   (target {cmp} {target}){ok}" if target else ""), flush=True)

        # 3b. profile -------------------------------------------------------------------------
        profile_text = ""
        if args.profile is not None:
            prof = Path(args.profile) if args.profile else work / "engine.prof"
            pid = f"bench-profile-{run}"
            prun = EngineRun("engine under cProfile", total)
            cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "hub", "worker", "--until-idle"]
            asyncio.run(watch_engine(cmd, engine_env(env, work / "profile-home", pid), pid,
                                     internal_topic_name(Settings(worker_id=pid)), prun, work / "profile.log"))
            print(f"engine under cProfile: {fmt(prun.rate())} ev/s ({prun.wall:.1f} s start→exit); stats in {prof}",
                  flush=True)
            profile_text = print_profile(prof)
            print(profile_text, flush=True)
            shutil.rmtree(work / "profile-home", ignore_errors=True)

        # 4. RSS with ≥ rss-persons persons in state -------------------------------------------
        rss_persons = args.rss_persons or args.events
        persons = main_persons = gen.persons
        if not args.skip_rss and rss_persons > gen.persons:
            extra = rss_persons - gen.persons
            spool = Spool(work / "spool-topup", months=1)
            gen.topup(spool, extra)
            spool.close()
            asyncio.run(publish(spool, range(1), watermarks=False))
            spool.remove()
            persons = gen.persons
            topup = EngineRun("engine, top-up", extra)
            asyncio.run(watch_engine([hub_exe(), "worker", "--until-idle"], eenv, engine_id, internal, topup,
                                     work / "engine-topup.log"))
            topup.state = state_keys(engine_home, engine_id)
            print(f"RSS run: +{extra:,} enrolment-only pupils → {persons:,} young people; the engine (same state) "
                  f"took {topup.wall:.1f} s ({fmt(topup.rate())} ev/s), peak RSS {topup.rss_mb:.0f} MB; "
                  f"state keys {topup.state}", flush=True)
            figures["rss"] = topup
        figures["persons"] = persons

        # 5. latency --------------------------------------------------------------------------
        if not args.skip_latency:
            lat = asyncio.run(latency_phase(eenv, secret, args.latency_rate, args.latency_seconds,
                                            args.latency_warmup, args.ready_timeout, work / "engine-latency.log"))
            figures["latency"] = lat
            lost = lat.sent - lat.arrived
            print(f"latency at {lat.rate:,.0f} triggering events/s over {args.latency_seconds:.0f} s "
                  f"(engine answered after {lat.ready_after:.1f} s): p50 {lat.p50 * 1000:,.0f} ms, "
                  f"p99 {lat.p99 * 1000:,.0f} ms, max {lat.max * 1000:,.0f} ms"
                  + (f", {lost:,} of {lat.sent:,} cases NOT arrived" if lost else f", {lat.arrived:,} cases")
                  + f"; peak RSS {lat.rss_mb:.0f} MB " + ("(target p99 ≤ 500 ms: ok)" if lat.p99 <= 0.5 and not lost
                                                           else "(target p99 ≤ 500 ms: NOT met)"), flush=True)

        # summary -----------------------------------------------------------------------------
        print(f"\nbench/engine.py --events {args.events:,}: {total:,} events over {main_persons:,} young people"
              + (f" (+ {gen.persons - main_persons:,} enrolment-only pupils for the RSS run)"
                 if gen.persons > main_persons else "")
              + f", {time.time() - t_begin:.0f} s in all\n")
        print("| figure | value | baseline (same run) | ratio | target |")
        print("|---|---|---|---|---|")
        e = figures["engine"]
        steady_txt = "first progress → all committed" if e.steady else "start → exit"
        if base:
            for mode, name, target in (("bare", "bare Faust agent", "≥ 0.5"), ("naive", "naive Faust (decode + table)",
                                                                               "≥ 3"),
                                       ("bare-hub", "bare agent on the engine's fetch loop", "—")):
                b = base[mode]
                print(f"| engine throughput ({steady_txt}) | {fmt(e.rate())} ev/s | {name} {fmt(total / b['steady'])} "
                      f"ev/s | {e.rate() / (total / b['steady']):.2f} | {target} |")
            b = base["raw"]
            print(f"| raw ceiling (aiokafka + decode) | {fmt(total / b['steady'])} ev/s | — | "
                  f"{e.rate() / (total / b['steady']):.2f} | — |")
            cpu = {m: base[m]["cpu"] / total * 1e6 for m in base}
            print(f"| CPU per event, process start → exit | engine {e.cpu / total * 1e6:,.0f} µs | bare "
                  f"{cpu['bare']:,.0f} µs (engine's fetch loop {cpu['bare-hub']:,.0f} µs), naive {cpu['naive']:,.0f} µs, raw {cpu['raw']:,.0f} µs | "
                  f"{cpu['bare'] / (e.cpu / total * 1e6):.2f} (bare/engine) | — |")
        else:
            print(f"| engine throughput ({steady_txt}) | {fmt(e.rate())} ev/s | — | — | — |")
        print(f"| engine start → exit ({total:,} events) | {e.wall:.0f} s ({fmt(total / e.wall)} ev/s) | — | — | — |")
        if "latency" in figures:
            lat = figures["latency"]
            lost = lat.sent - lat.arrived
            print(f"| latency produce → observatory topic at {lat.rate:,.0f} ev/s | p50 {lat.p50 * 1000:,.0f} ms, "
                  f"p99 {lat.p99 * 1000:,.0f} ms" + (f" ({lost:,} not arrived)" if lost else "")
                  + " | — | — | p99 ≤ 500 ms |")
        peaks = [(e.rss_mb, f"main run {e.rss_mb:.0f} MB ({main_persons:,} young people)")]
        if "rss" in figures:
            r = figures["rss"]
            peaks.append((r.rss_mb, f"top-up run to {figures['persons']:,} young people in state {r.rss_mb:.0f} MB"))
        if "latency" in figures:
            lat = figures["latency"]
            peaks.append((lat.rss_mb, f"plain worker under the latency load {lat.rss_mb:.0f} MB"))
        top = max(p for p, _ in peaks)
        print(f"| engine peak RSS, {figures['persons']:,} young people in state at the end | {top:.0f} MB: "
              + "; ".join(t for _, t in peaks) + f" | — | — | ≤ 500 MB{'' if top <= 500 else ' (NOT met)'} |")
    finally:
        if broker is not None:
            broker.stop()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
