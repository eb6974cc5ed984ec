"""Running the engine: `hub worker [--until-idle]`.

The Faust app runs under `faust.Worker` (programmatically: no Faust command line, no
argv parsing), with the directory follower as a service started before the app, and,
with `--until-idle`, the idle monitor.

How `--until-idle` decides the work is done (`IdleMonitor`), every 0.5 s once the app
has finished starting (table recovery done):

- for **every partition of every topic the app consumes** — the five person sources,
  suivi.actions.v1, the internal topic, hub.watermarks.v1, hub.directory.v1 — the
  consumer group's committed offset (`list_consumer_group_offsets`, group-wide, so it
  holds with several workers) equals the partition's end offset (a partition with no
  readable record, beginning == end, counts as done);
- Faust's producer buffer is empty.

Faust commits an offset only after it has flushed the producer, so a committed input
means its outputs — cases, and the internal messages it caused (a forwarded event, a
TICK to every partition) — are on the broker; those internal messages raise the
internal topic's end offsets, so the check goes on until they are processed too. A
deadline passed by the clock is applied by the TICK that the clock agent sends; the
TICK's offset commits once applied. Two consecutive idle checks → the worker stops as on
SIGTERM (Faust waits for in-flight events, commits, flushes, closes the tables) and the
command exits 0. A fatal error exits 1.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import faust
from aiokafka import TopicPartition
from mode import Service

from hub.kafka import client
from hub.logging import get_logger
from hub.runtime import freeze_startup
from hub.settings import DEFAULT_PSEUDONYM_SECRET, DEFAULT_SECRET_WARNING, Settings
from hub.worker.app import Engine, build_engine, prepare_topics
from hub.worker.core import where

log = get_logger("hub.worker")
LAG_REPORT_EVERY = 20  # idle checks (10 s) between two "not idle yet" lines


def _shutdown() -> None:
    """Stop the running worker the way SIGTERM does (clean: commit, flush, close)."""
    os.kill(os.getpid(), signal.SIGTERM)


class IdleMonitor(Service):
    """Stops the worker once everything is processed (see module doc)."""

    def __init__(self, engine: Engine, started: asyncio.Event, interval: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.app_started = started
        self.interval = interval
        self.reached = False
        self.checks = 0
        self._admin = None
        self._consumer = None

    async def on_start(self) -> None:
        settings = self.engine.settings
        self._admin = client.admin(settings)
        await self._admin.start()
        self._consumer = client.consumer(settings=settings, group_id=None)
        await self._consumer.start()

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    @Service.task
    async def _watch(self) -> None:
        await self.app_started.wait()
        streak = 0
        while not self.should_stop:
            try:
                idle = await self.is_idle()
            except Exception as exc:  # noqa: BLE001 — a failed check is "not idle yet"
                log.warning("idle check failed", reason=f"{type(exc).__name__}: {exc}"[:200])
                idle = False
            self.checks += 1
            streak = streak + 1 if idle else 0
            if streak >= 2:
                self.reached = True
                log.info("idle: every input processed", checks=self.checks, processed=self.engine.processed)
                _shutdown()
                return
            await self.sleep(self.interval)

    async def _partitions(self) -> list[TopicPartition]:
        consumer = self._consumer
        tps: list[TopicPartition] = []
        for topic in self.engine.topics:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()  # noqa: SLF001 — new topic
                parts = consumer.partitions_for_topic(topic) or set()
            tps += [TopicPartition(topic, p) for p in sorted(parts)]
        return tps

    async def is_idle(self) -> bool:
        lagging = await self.lagging()
        if lagging and self.checks % LAG_REPORT_EVERY == LAG_REPORT_EVERY - 1:
            # What a stuck `--until-idle` waits for, without reading the code.
            log.info("not idle yet", lagging=lagging[:8], partitions=len(lagging))
        return not lagging

    async def lagging(self) -> list[str]:
        """The inputs not done yet, as "topic:partition committed/end" (or "producer
        buffer" while Faust's producer holds records)."""
        if self.engine.app.producer.buffer.size:
            return ["producer buffer"]
        tps = await self._partitions()
        ends = await self._consumer.end_offsets(tps)
        begins = await self._consumer.beginning_offsets(tps)
        committed = await self._admin.list_consumer_group_offsets(self.engine.settings.worker_id)
        lagging = []
        for tp in tps:
            end = ends[tp]
            if end <= begins[tp]:
                continue
            done = committed.get(tp)
            if done is None or done.offset < end:
                lagging.append(f"{tp.topic}:{tp.partition} {done.offset if done else None}/{end}")
        return lagging


class HubWorker(faust.Worker):
    """faust.Worker that tells the idle monitor when the app is fully started."""

    def __init__(self, *args, started: asyncio.Event, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._hub_started = started

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        self._hub_started.set()


def run_worker(settings: Settings, *, until_idle: bool = False) -> int:
    """Run the engine until stopped (or idle); the process exit status."""
    partitions, names = asyncio.run(prepare_topics(settings))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    engine = build_engine(settings, partitions, names)
    freeze_startup()
    started = asyncio.Event()
    services: list[Service] = [engine.follower, engine.schemas, engine.sequencer, engine.tables]
    monitor = None
    if until_idle:
        monitor = IdleMonitor(engine, started)
        services.append(monitor)
    worker = HubWorker(
        engine.app,
        *services,
        started=started,
        loop=loop,
        quiet=True,
        override_logging=False,  # keep hub.logging's set-up: library logs at WARNING on stderr
        redirect_stdouts=False,
        stdout=sys.stderr,
        stderr=sys.stderr,
        loglevel=settings.log_level,
    )
    worker.spinner = None  # Faust's terminal spinner writes escape codes even when quiet
    log.info("worker starting", worker_id=settings.worker_id, partitions=partitions, until_idle=until_idle)
    if settings.pseudonym_secret == DEFAULT_PSEUDONYM_SECRET:
        log.warning(DEFAULT_SECRET_WARNING)
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if engine.fatal is not None:
        log.error("worker stopped on error", reason=where(engine.fatal))
        return 1
    if until_idle and monitor is not None and not monitor.reached:
        return code or 130
    log.info("worker stopped", processed=engine.processed, skipped=engine.skipped)
    return code
