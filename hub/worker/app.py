"""The Faust shell of the case engine: one app, three agents, two tables (`tables.py`).

    person sources + actions + internal ─► persons agent ─► cases.v1, observatoire.*.cases.v1,
                                            │   ▲            hub.identites.litiges.v1
                                            └───┘ internal topic (ROUTE/ASSIGN/RETRACT/REGISTER)
    hub.watermarks.v1 ─► clock agent ──TICK(clock) to every partition──► internal topic
    hub.directory.v1  ─► directory agent ─DIRECTORY(offset) to every partition─► internal topic
                         (+ an in-memory DirectoryFollower in every worker process)

Choices (see also `core.py` for the processing itself):

- **App**: id = settings.worker_id (also the consumer group), broker from
  `hub.kafka.client.bootstrap_servers()`, web server off, commits every 0.5 s. Faust
  commits an offset only after flushing its producer (our outputs), and a batch's state
  is on the broker before its outputs leave, which gives at-least-once; `core.py` makes
  replays harmless.
- **Group**: session timeout 10 s, heartbeat 2 s, so that the partitions of a worker
  killed -9 are reassigned within seconds (a clean stop leaves the group at once).
- **Producer**: acks=all and idempotent (`IdempotentProducer`: Faust's aiokafka producer
  with `enable_idempotence=True`; Faust only enables it for exactly-once), so a retried
  send never duplicates or reorders a record within a partition; 5 ms linger so that
  records share produce requests.
- **Consumer**: `RewindingConsumer` (`transport.py`): after a rebalance, a partition the
  group has never committed is read again from its beginning; aiokafka left it past the
  records Faust dropped during the rebalance, and they were never processed.
- **Tables** (`persons`, `clock`): the engine's own (`tables.py`), not Faust's: RocksDB
  (rocksdict) under `<HUB_HOME>/worker/<worker_id>/state`, written through
  `PartitionStore` (a batch's changelog records first, awaited, then RocksDB: the local
  database is always a prefix of the changelog) and restored and claimed by
  `Tables.ready` before an agent uses a partition in a generation (a claim fences off
  what a frozen former owner writes later). Faust's recovery could restore a
  partition with records missing (the churn audit of 2026-12-08, see tables.py).
- **Agents**: concurrency 1 (Faust #606: concurrent actors ack out of order). The person
  agent takes its records in batches from its intake (`intake.py`: the fetch loop puts
  its topics' records there, without Faust's conductor and stream; up to BATCH_MAX, or
  what arrived within BATCH_WITHIN seconds of the first) and acknowledges them after
  the batch: per-record framework costs (awaits, table writes, sends) are paid once per
  person per batch, see core.py "Batches".
  A batch writes nothing for partitions no longer this worker's (`fence`: stopping,
  rebalanced, partition no longer assigned; and after a freeze, nothing before the
  group has counted the worker as a member again) and a batch interrupted or given up is
  never acknowledged (`forget`). Each agent adds the messages it takes to `consumer.handled`: only
  their acknowledgements count (`RewindingConsumer.ack`). Every record is handled inside
  a try: a record that does not decode (a tombstone included) is logged (no personal
  data) and skipped; any other error stops the worker at once with status 1 (a hard
  exit, no commit) rather than losing data silently: the batch is processed again at
  restart.
- **Co-partitioning**: every person-keyed topic, the internal topic and the `persons`
  changelog have the same partition count N (that of `rectorat.eleves.v1`); aiokafka and
  Faust use the same murmur2 partitioner, so a person key always lands on the same
  partition number and its table entry is local.
- **Internal topic** `<worker_id>-engine-persons` (N partitions, created at start): one
  per worker id, like Faust's own changelog topics, so that two engines with different
  ids (tests, blue/green) never consume each other's internal messages. Messages: see
  `messages.py`. The clock and directory agents address TICK/DIRECTORY to each
  partition explicitly. The messages a batch sends to person keys (identity linking,
  re-routing) travel in bundles, one per destination partition (`Engine.bundled`):
  Faust's per-record cost is paid once per bundle instead of 0.4 times per source
  event. The same directory loaded again (same version hash) re-routes nobody.
- **Order of ticks and directory updates**: they go out in the order their records were written
  (`sequence.py`): each of the two agents first waits until the other has handled what
  was written before its record, so a worker started after watermarks and a directory
  update applies them as a running worker did.
- **Ticks and directory updates** touch many persons: they are applied in chunks whose
  outputs are sent and *awaited* before the chunk's state is written, and the
  partition's clock / directory offset is written last; a crash in the middle makes the
  replay redo what is not yet recorded, never skip it.
- **Outputs** go straight to the producer (`app.producer.send`); a failed delivery
  stops the worker (the records are produced again at restart, from the replay).
  Observatory topics are created on first use if `hub topics apply`/`hub directory load`
  did not create them (auto-creation is off on the hub's broker).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from datetime import date

import faust
from faust.types import TP

from hub.avro import CodecError, UnknownFingerprint, get_codec
from hub.avro.fingerprint import fingerprint_hex
from hub.directory.lookup import META_KEY
from hub.kafka import client
from hub.kafka.sink import partition_for
from hub.kafka.topics import (
    ACTIONS,
    CLOCK_TABLE,
    DIRECTORY,
    PERSONS_TABLE,
    WATERMARKS,
    apply_topics,
    declared_topics,
    ensure_topics,
    internal_topic_name,
    worker_topics,
)
from hub.logging import get_logger
from hub.settings import Settings
from hub.types.events import SOURCE_TOPICS
from hub.worker import messages
from hub.worker.core import Batch, ClockKeeper, Overlay, PersonProcessor, Send, where
from hub.worker.directory import DirectoryFollower
from hub.worker.intake import Intake
from hub.worker.schemas import SchemaFollower
from hub.worker.sequence import Sequencer
from hub.worker.tables import PartitionStore, Tables
from hub.worker.transport import IdempotentProducer, RewindingConsumer
from hub.worker.watchdog import CHECK_EVERY, BrokerWatch, StallWatch, read_again

log = get_logger("hub.worker")

# Person-keyed source topics (suivi.actions.v1, keyed by case id, is re-routed).
PERSON_TOPICS: tuple[str, ...] = tuple(t for s, t in SOURCE_TOPICS.items() if s != "suivi")
# Persons per chunk when a tick or a directory update re-evaluates many. Each chunk waits
# for its outputs (a broker round trip): 1,024 rather than 256 made bench/engine.py's
# 50k-event run ≈ 11 % faster (alternated runs); a chunk is ≈ 0.1 s of the agent's time.
CHUNK = 1024
BUNDLE_BYTES = 200_000  # internal messages per bundle (the producer's batch is 256 KB)
# Person messages handled together (core.py, "Batches"): up to BATCH_MAX, or what arrived
# within BATCH_WITHIN seconds (the latency a quiet stream adds).
BATCH_MAX = 1000
BATCH_WITHIN = 0.05
# Records the fetch loop may put in the persons agent's intake before it waits (Faust's
# stream buffer held 4,096).
INTAKE_MAX = 4 * BATCH_MAX
# A worker killed -9 stays in the group until its session times out, holding its
# partitions: 10 s (Faust's default is 60 s) bounds that stall after a crash.
SESSION_TIMEOUT = 10.0
HEARTBEAT_INTERVAL = 2.0
# A batch writes only if the group counted this worker as a member within this many
# seconds (then its session has at least a heartbeat interval left): `fence`.
MEMBER_WITHIN = SESSION_TIMEOUT - HEARTBEAT_INTERVAL


class Abandoned(Exception):
    """A batch given up before its writes: its records are read again (`fence`)."""


async def _no_fence(partitions: Iterable[int]) -> None:
    """`Engine.reevaluate_many` outside an agent (tests, tools): nothing to check."""


class HubFaustApp(faust.App):
    #: Table changelog records Faust may buffer before the stream waits for them to be
    #: handed to the producer (Faust's default, 100, stalls the agent on every burst).
    producer_buffer_max = 2000
    #: Where the fetch loop puts the persons agent's records (intake.py); set before start.
    intake: Intake | None = None

    def _new_producer(self):
        producer = IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)
        producer.buffer.max_messages = self.producer_buffer_max
        return producer

    def _new_consumer(self):
        consumer = RewindingConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.loop,
        )
        consumer.intake = self.intake
        return consumer


class Fatal(Exception):
    """Stops the worker: processing cannot go on without losing data."""


@dataclass
class Engine:
    """The Faust app and everything its agents use."""

    settings: Settings
    partitions: int
    app: faust.App
    follower: DirectoryFollower
    schemas: SchemaFollower
    sequencer: Sequencer
    processor: PersonProcessor
    internal: str
    topics: tuple[str, ...]  # every topic the app consumes (for --until-idle)
    tables: Tables | None = None
    known_topics: set[str] = field(default_factory=set)
    fatal: BaseException | None = None
    skipped: int = 0
    processed: int = 0
    _topic_lock: asyncio.Lock | None = None
    exit: Callable[[int], None] = os._exit  # the hard exit of `stop_fatal`

    # -- producing ---------------------------------------------------------------------

    async def send(self, outs: Sequence[Send], *, wait: bool = False) -> None:
        """Produce `outs` (internal messages in bundles, see `bundled`); with `wait`,
        until the broker has them all."""
        if not outs:
            return
        outs = self.bundled(outs)
        producer = self.app.producer
        futures = []
        for out in outs:
            topic = out.topic or self.internal
            if topic not in self.known_topics:
                await self.ensure_topic(topic)
            fut = await producer.send(topic, out.key, out.value, out.partition, None, None)
            if wait:
                futures.append(fut)
            else:
                fut.add_done_callback(self._check_delivery)
        await self.delivered(futures)

    async def delivered(self, futures: Sequence[asyncio.Future]) -> None:
        """Until the broker has the records of `futures`, sent at once rather than after
        the producer's linger (`IdempotentProducer.expedite`)."""
        if futures:
            self.app.producer.expedite()
            await asyncio.gather(*futures)

    def bundled(self, outs: Sequence[Send]) -> list[Send]:
        """`outs` with the internal messages to a key (identity linking, re-routing)
        grouped per destination partition into bundles (`messages.BUNDLE`, at most
        BUNDLE_BYTES each), the order of each partition's messages kept. The other
        records keep their order; no order ever held between partitions."""
        kept: list[Send] = []
        groups: dict[int, list[tuple[bytes, bytes]]] = {}
        ids = list(range(self.partitions))
        for out in outs:
            if out.topic is None and out.partition is None and out.key is not None:
                p = partition_for(out.key, ids)
                groups.setdefault(p, []).append((out.key, out.value))
            else:
                kept.append(out)
        for p, entries in groups.items():
            size, start = 0, 0
            for i, (key, value) in enumerate(entries):
                size += len(key) + len(value) + 8
                if size > BUNDLE_BYTES and i > start:
                    kept.append(Send(None, messages.BUNDLE_KEY, messages.bundle(entries[start:i]), p))
                    size, start = len(key) + len(value) + 8, i
            kept.append(Send(None, messages.BUNDLE_KEY, messages.bundle(entries[start:]), p))
        return kept

    async def persist(self, *stores: PartitionStore) -> None:
        """Make the stores' writes durable: their changelog records on the broker, then
        in RocksDB (see PartitionStore). One round trip for all of them."""
        producer = self.app.producer
        sent = []
        for store in stores:
            if store.pending:
                batches = await producer.send_many(store.topic, store.partition, store.pending.items(),
                                                   store.headers())
                for fut, _ in batches:
                    fut.add_done_callback(self._check_delivery)
                sent.append((store, batches))
        await self.delivered([fut for _, batches in sent for fut, _ in batches])
        for store, batches in sent:
            offsets = [fut.result().offset + i for fut, count in batches for i in range(count)]
            if not store.write(offsets):  # the recorded offset stays what it was
                log.warning("changelog written by another worker meanwhile: the partition's state will be read "
                            "again from the changelog at its next restore", topic=store.topic,
                            partition=store.partition, recorded=store.recorded(), first=offsets[0])

    def _check_delivery(self, fut: asyncio.Future) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            log.error("a record could not be delivered", error=type(exc).__name__, detail=str(exc)[:200])
            self.stop_fatal(Fatal("delivery failed"))

    async def ensure_topic(self, topic: str) -> None:
        """Create an observatory topic on first use (every other topic exists at start)."""
        if self._topic_lock is None:
            self._topic_lock = asyncio.Lock()
        async with self._topic_lock:
            if topic in self.known_topics:
                return
            if not topic.startswith("observatoire."):
                raise Fatal(f"topic {topic} does not exist")
            code = topic.split(".", 1)[1].rsplit(".cases.v1", 1)[0]
            specs = [s for s in declared_topics(self.settings, [code]) if s.name == topic]
            admin = client.admin(self.settings)
            await client.started(admin)
            try:
                try:
                    await apply_topics(admin, specs, self.settings.replication_factor)
                except Exception:  # noqa: BLE001 — e.g. created meanwhile by another worker
                    if topic not in set(await admin.list_topics()):
                        raise
            finally:
                await admin.close()
            log.info("observatory topic ready", topic=topic)
            self.known_topics.add(topic)

    async def halt(self, exc: BaseException) -> None:
        """Stop the worker (see `stop_fatal`); never returns."""
        self.stop_fatal(exc)
        await asyncio.Event().wait()

    def stop_fatal(self, exc: BaseException) -> None:
        """Stop at once, as a crash would: no commit, no flush. A clean stop would run
        Faust's stop (commits, flushes) with the batch in hand half applied; after a hard
        exit, everything not committed is processed again at the next start, which
        `core.py` makes harmless."""
        if self.fatal is None:
            self.fatal = exc
            log.error("worker stopping on error", reason=where(exc))
            sys.stderr.flush()
            sys.stdout.flush()
            self.exit(1)

    # -- many persons at once (ticks, directory updates) --------------------------------------

    async def reevaluate_many(self, store: PartitionStore, partition: int, targets, *, clock,
                              only_published=False, fence=None) -> int:
        fence = fence or _no_fence
        n = 0
        for i in range(0, len(targets), CHUNK):
            overlay = Overlay(store)
            outs: list[Send] = []
            for target in targets[i : i + CHUNK]:
                key, due = target if isinstance(target, tuple) else (target, None)
                outs += self.processor.reevaluate(
                    overlay, partition, key, clock=clock, due=due, only_published=only_published
                )
                n += 1
            await fence([partition])
            await self.send(outs, wait=True)
            await fence([partition])
            overlay.apply()
            await self.persist(store)
            await asyncio.sleep(0)
        return n


async def prepare_topics(settings: Settings) -> tuple[int, list[str]]:
    """Make sure every topic the engine reads or writes exists; the partition count N.

    Missing declared topics are created and missing schemas published (`ensure_topics`,
    as every writing command does; the configs of existing topics are left alone),
    observatory topics of the directory too, then the engine's internal topic with N
    partitions.
    """
    from hub.directory_feed import read_directory

    admin = client.admin(settings)
    await client.started(admin)
    try:
        existing = set(await admin.list_topics())
        try:
            index = await read_directory(settings) if DIRECTORY in existing else None
        except Exception:  # noqa: BLE001 — an unreadable directory is the follower's business
            index = None
        observatories = list(index.observatoires) if index else []
        report = await ensure_topics(settings, observatories)
        if report.created:
            log.info("topics created", count=len(report.created))
        metadata = await admin.describe_topics([PERSON_TOPICS[0]])
        n = len(metadata[0]["partitions"]) or settings.topic_partitions
        # The internal topic and the tables' changelog topics (tables.py; named as Faust
        # names a table's changelog, which the engine's tables were until 2026-12-08).
        await apply_topics(admin, worker_topics(settings, n), settings.replication_factor)
        names = sorted(set(await admin.list_topics()))
    finally:
        await admin.close()
    return n, names


def new_app(settings: Settings, app_id: str, partitions: int, datadir: Path) -> faust.App:
    """The engine's Faust app, configured (bench/engine.py's Faust baselines use it too,
    so that they compare per-record work, not configuration)."""
    bootstrap = client.bootstrap_servers(settings)
    return HubFaustApp(
        app_id,
        broker=[f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip()],
        store="rocksdb://",
        datadir=str(datadir),
        topic_partitions=partitions,
        topic_replication_factor=settings.replication_factor,
        topic_disable_leader=True,
        producer_acks=-1,
        broker_commit_interval=0.5,
        # Outputs and changelog records wait up to 5 ms to share a produce request:
        # without it aiokafka sends nearly one request per record.
        producer_linger=0.005,
        producer_max_batch_size=256 * 1024,
        broker_session_timeout=SESSION_TIMEOUT,
        broker_heartbeat_interval=HEARTBEAT_INTERVAL,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        autodiscover=False,
    )


class PutBack:
    """Records an agent gave up waiting for (sequence.py) are read again after the
    rebalance, from the committed offset — and so are those after them, fetched under the
    same generation: they must not be handled before the one put back."""

    def __init__(self, app: faust.App) -> None:
        self.app = app
        self.generation = None

    def _generation(self, msg):
        return self.app.consumer_generation_id if msg.generation_id is None else msg.generation_id

    def start(self, msg) -> None:
        self.generation = self._generation(msg)
        self.app.consumer.forget(msg)

    def again(self, msg) -> bool:
        if self.generation is None or self._generation(msg) != self.generation:
            return False
        self.app.consumer.forget(msg)
        return True


def _millis(timestamp: float | None) -> int | None:
    """A Faust message's timestamp (seconds) in Kafka's milliseconds."""
    return None if timestamp is None else round(timestamp * 1000)


def build_engine(settings: Settings, partitions: int, existing_topics: Iterable[str] = ()) -> Engine:
    datadir = settings.home / "worker" / settings.worker_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = new_app(settings, settings.worker_id, partitions, datadir)
    codec = get_codec()
    follower = DirectoryFollower(settings)
    processor = PersonProcessor(
        codec=codec, secret=settings.pseudonym_secret, rules=settings.rules, directory=follower.current
    )
    internal = internal_topic_name(settings)
    engine = Engine(
        settings=settings,
        partitions=partitions,
        app=app,
        follower=follower,
        schemas=SchemaFollower(settings, codec),
        sequencer=Sequencer(settings),
        processor=processor,
        internal=internal,
        topics=(*PERSON_TOPICS, ACTIONS, internal, WATERMARKS, DIRECTORY),
        known_topics=set(existing_topics),
        tables=Tables(settings, datadir / "state"),
    )
    tables = engine.tables
    raw = dict(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    # key_type/value_type bytes: Faust then uses the "raw" serializer (no json).
    keeper = ClockKeeper(codec)

    person_channel = app.topic(*PERSON_TOPICS, ACTIONS, internal, allow_empty=True, **raw)
    watermarks = app.topic(WATERMARKS, allow_empty=True, **raw)
    directory_topic = app.topic(DIRECTORY, allow_empty=True, **raw)

    async def broadcast(value: bytes, key: bytes) -> None:
        await engine.send([Send(internal, key, value, p) for p in range(partitions)])

    def track(message) -> None:
        """A record taken from the intake: acknowledged later (a rebalance or a stop waits
        for it), as Faust's stream tracks the records it takes."""
        message.tracked = True
        app.consumer.track_message(message)

    intake = app.intake = Intake((*PERSON_TOPICS, ACTIONS, internal), INTAKE_MAX, flow_control=app.flow_control,
                                 track=track, forget=lambda message: app.consumer.forget(message))

    @app.agent(person_channel, concurrency=1, name="hub-persons")
    async def persons_agent(stream):
        # The channel is only subscribed here (Faust's consumer reads the topics its
        # conductor lists); its records come through the intake. A batch interrupted (a
        # stop cancels it) or failed is forgotten: its offsets are not committed and the
        # next owner reads it again.
        aiter(stream.channel)
        try:
            while True:
                records = await intake.take(BATCH_MAX, BATCH_WITHIN)
                try:
                    await handle(records)
                except BaseException:
                    forget(records)
                    raise
                ack = app.consumer.ack
                for record in records:
                    ack(record)
        finally:
            intake.clear()

    def forget(records) -> None:
        """Never acknowledge these records: they are read again."""
        for record in records:
            app.consumer.forget(record)

    async def handle(records) -> None:
        try:
            await process(records)
        except Abandoned as why:
            forget(records)
            log.warning("batch abandoned, its records will be read again", reason=str(why))

    async def process(records) -> None:
        batches: dict[int, Batch] = {}
        outs: list[Send] = []
        generation = app.consumer_generation_id

        def gone() -> bool:
            # A rebalance that begins ends the wait too: it waits for this batch's acks.
            return app.should_stop or app.rebalancing or app.consumer_generation_id != generation

        async def fence(partitions: Iterable[int]) -> None:
            """Before any write: the partitions' state is still this worker's. A worker
            that stops, or whose partitions a rebalance has moved, must not write a state
            another worker has already restored (a later restore would take the stale
            one): the batch is given up instead, and read again by the owner. A worker
            the group has not heard from for a while (frozen: the broker may have
            expelled it while it runs) first waits to be counted as a member again, or
            for the rebalance that says it was not."""
            member = await app.consumer.still_member(MEMBER_WITHIN, gone)
            if app.should_stop:
                raise Abandoned("the worker stops")
            if app.consumer_generation_id != generation:
                raise Abandoned("a rebalance happened")
            if not member:
                raise Abandoned("a rebalance begins while the group has not heard from this worker")
            for p in partitions:
                if not app.assignor.is_active(TP(internal, p)):
                    raise Abandoned(f"partition {p} is no longer this worker's")
        handled = app.consumer.handled
        # Each partition's state restored and claimed in this generation before it is
        # read (tables.py).
        for p in sorted({m.partition for m in records}):
            await tables.ready(PERSONS_TABLE, p, generation, engine.persist)
        for msg in records:
            if msg.generation_id is not None and msg.generation_id != generation:
                # Fetched before a rebalance: the partition may be another worker's now,
                # and its state with it; read again from the committed offset if ours.
                forget([msg])
                continue
            handled.add(msg)  # its acknowledgement counts (RewindingConsumer.ack)
            partition = msg.partition
            try:
                if msg.topic == internal:
                    m = messages.parse(msg.value)
                    if m.kind == messages.TICK or m.kind == messages.DIRECTORY:
                        # Everything before it is flushed first: see core.py, "Batches".
                        await flush(batches, outs, fence)
                        store = tables.store(PERSONS_TABLE, partition)
                        if m.kind == messages.TICK:
                            await _tick(store, partition, m.clock, fence)
                        else:
                            await _directory(store, partition, *m.directory, fence)
                        await fence([partition])
                        await engine.persist(store)
                    elif m.kind == messages.BUNDLE:
                        for key, inner in messages.unbundle(m.payload):
                            try:
                                outs += await readable(processor.on_internal, batch_of(batches, partition), key, inner)
                            except CodecError as exc:  # one entry's event: the others are applied
                                skipped(msg, exc)
                    else:
                        outs += await readable(processor.on_internal, batch_of(batches, partition), msg.key, m)
                else:
                    outs += await readable(processor.on_source, batch_of(batches, partition), msg.key, msg.value)
                engine.processed += 1
            except (CodecError, messages.BadMessage) as exc:
                # Raised before any state change: nothing of the record was applied.
                skipped(msg, exc)
            except Abandoned:
                raise
            except Exception as exc:  # noqa: BLE001
                log.error("person agent failed", topic=msg.topic, partition=partition, offset=msg.offset,
                          error=where(exc))
                await engine.halt(exc)
        try:
            await flush(batches, outs, fence)
        except Abandoned:
            raise
        except Exception as exc:  # noqa: BLE001
            log.error("person agent failed", error=where(exc))
            await engine.halt(exc)

    async def readable(handler, *args) -> list[Send]:
        """`handler(*args)`, run again once the schema reader has caught up with
        hub.schemas.v1 when the record's schema version is not known yet (schemas.py).
        Handlers decode before they change anything, so the first try left no trace."""
        try:
            return handler(*args)
        except UnknownFingerprint:
            await engine.schemas.catch_up()
            return handler(*args)

    def skipped(msg, exc: Exception) -> None:
        engine.skipped += 1
        if isinstance(exc, UnknownFingerprint):  # not on hub.schemas.v1 either: an operator must look
            log.error("record skipped: its schema is on neither schemas/ nor hub.schemas.v1", topic=msg.topic,
                      partition=msg.partition, offset=msg.offset, fingerprint=fingerprint_hex(exc.fingerprint))
            return
        log.warning("record skipped", topic=msg.topic, partition=msg.partition, offset=msg.offset,
                    reason=type(exc).__name__)

    def batch_of(batches: dict[int, Batch], partition: int) -> Batch:
        b = batches.get(partition)
        if b is None:
            b = batches[partition] = Batch(tables.store(PERSONS_TABLE, partition), partition)
        return b

    async def flush(batches: dict[int, Batch], outs: list[Send], fence) -> None:
        for b in batches.values():
            outs += processor.flush(b)
        await fence(batches)
        # The batch's state is durable before its outputs leave: a record on an output
        # topic is always known to the state a restart finds, which can then re-send or
        # tombstone it (core.py, "At-least-once").
        await engine.persist(*(b.store for b in batches.values()))
        await fence(batches)
        batches.clear()
        await engine.send(outs)
        outs.clear()

    async def _tick(store: PartitionStore, partition: int, clock: date, fence) -> None:
        targets = processor.tick_targets(store, partition, clock)
        if targets is None:
            return
        n = await engine.reevaluate_many(store, partition, targets, clock=clock, fence=fence)
        processor.set_clock(store, partition, clock)
        log.info("clock applied", partition=partition, clock=clock.isoformat(), persons=n)

    async def _directory(store: PartitionStore, partition: int, offset: int, version: str, fence) -> None:
        targets = processor.directory_targets(store, partition, offset, version)
        if targets is None:
            return
        await follower.wait_position(offset + 1)
        n = await engine.reevaluate_many(
            store, partition, targets, clock=processor.clock(store, partition), only_published=True, fence=fence
        )
        processor.set_directory(store, partition, offset, version)
        log.info("directory applied", partition=partition, version=version[:19], persons=n)

    def rebalanced() -> Callable[[], bool]:
        """Whether, since now, a rebalance has begun or happened (or the worker stops)."""
        generation = app.consumer_generation_id
        return lambda: app.should_stop or app.rebalancing or app.consumer_generation_id != generation

    @app.agent(watermarks, concurrency=1, name="hub-clock")
    async def clock_agent(stream):
        put_back = PutBack(app)
        async for event in stream.events():
            msg = event.message
            if put_back.again(msg):
                continue
            app.consumer.handled.add(msg)
            try:
                if not await engine.sequencer.after_directory(_millis(msg.timestamp), rebalanced()):
                    put_back.start(msg)
                    continue
                await tables.ready(CLOCK_TABLE, msg.partition, app.consumer_generation_id, engine.persist)
                store = tables.store(CLOCK_TABLE, msg.partition)
                clock = keeper.on_watermark(store, msg.offset, msg.value)
                await engine.persist(store)
                if clock is not None:
                    await broadcast(messages.tick(clock), b"__tick__")
                    log.info("clock", clock=clock.isoformat())
            except CodecError as exc:
                log.warning("watermark skipped", offset=msg.offset, reason=type(exc).__name__)
            except Exception as exc:  # noqa: BLE001
                log.error("clock agent failed", offset=msg.offset, error=where(exc))
                await engine.halt(exc)
            engine.sequencer.done(WATERMARKS, msg.offset)

    @app.agent(directory_topic, concurrency=1, name="hub-directory")
    async def directory_agent(stream):
        put_back = PutBack(app)
        async for event in stream.events():
            msg = event.message
            if put_back.again(msg):
                continue
            app.consumer.handled.add(msg)
            try:
                if msg.key == META_KEY.encode() and msg.value is not None:
                    version = str(json.loads(msg.value).get("hash", ""))
                    if not await engine.sequencer.after_watermarks(_millis(msg.timestamp), rebalanced()):
                        put_back.start(msg)
                        continue
                    await broadcast(messages.directory(msg.offset, version), b"__directory__")
            except ValueError:
                log.warning("directory meta record skipped", offset=msg.offset)
            except Exception as exc:  # noqa: BLE001
                log.error("directory agent failed", offset=msg.offset, error=where(exc))
                await engine.halt(exc)
            engine.sequencer.done(DIRECTORY, msg.offset)

    watch = StallWatch(patience=settings.worker_stall_patience)
    inputs = set(engine.topics)
    generation = None

    @app.timer(CHECK_EVERY)
    async def commit_watchdog() -> None:
        # See watchdog.py: a partition Faust no longer commits is read again.
        nonlocal generation
        consumer = app.consumer
        if app.rebalancing or not app.tables.recovery.completed.is_set() or generation != app.consumer_generation_id:
            watch.forget()
            generation = app.consumer_generation_id
            return
        owned = [tp for tp in consumer.assignment() if tp.topic in inputs]
        committed = {tp: consumer._committed_offset.get(tp) for tp in owned}  # noqa: SLF001
        ends = {tp: consumer.highwater(tp) for tp in owned}
        stalled = watch.stalled(asyncio.get_running_loop().time(), engine.processed, committed, ends)
        if stalled:
            log.warning("partitions stalled: read again from their committed offset",
                        partitions=[f"{tp.topic}:{tp.partition} {committed[tp]}/{ends[tp]}" for tp in stalled])
            await read_again(consumer, stalled, committed)

    broker, bootstrap = BrokerWatch(), client.bootstrap_servers(settings)

    @app.timer(CHECK_EVERY)
    async def broker_watch() -> None:
        # See watchdog.py: aiokafka's own lines about an unreachable broker are silenced.
        answered = await app.producer.broker_answers(CHECK_EVERY)
        if answered is None:
            return
        change = broker.observe(asyncio.get_running_loop().time(), answered)
        if change is not None:
            what, seconds = change
            if what == "down":
                log.warning("Kafka is not answering: the worker waits for it and goes on by itself",
                            seconds=round(seconds), bootstrap=bootstrap)
            else:
                log.info("Kafka answers again", after_seconds=round(seconds))

    return engine
