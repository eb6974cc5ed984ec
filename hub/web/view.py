"""The web process's in-memory view of the topics its pages show.

One background consumer — no consumer group, every partition assigned by hand, read
from the beginning — keeps the latest record per key of:

- `cases.v1` (every case: operators, and counsellor structures through an index by
  `assigned_to.code`) and every `observatoire.<CODE>.cases.v1` (an observatory's own
  stream, its TRANSFERE records included); a tombstone deletes the case;
- `suivi.actions.v1`: the actions recorded on each case (to name the actions of the
  timeline, and to show the ones the engine has not reflected yet);
- `hub.directory.v1` (the directory, rebuilt whenever a new `meta:version` arrives),
  `hub.watermarks.v1` (the clock), and the count of dead letters per reason of every
  `<topic>.dlq` (read from the `reason` header: bodies are not decoded).

Pages are served from memory. `sync()` makes the view at least as recent as the topics'
end offsets at the time of the call (one metadata and one ListOffsets request; the
requests arriving meanwhile share it), so a page shows every record written before it
was asked for. Everything runs on the server's event loop: no locks.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.avro.codec import Codec, CodecError, UnknownFingerprint, get_codec
from hub.directory.lookup import META_KEY
from hub.kafka import client
from hub.kafka.topics import ACTIONS, CASES, DIRECTORY, SCHEMAS, WATERMARKS, learn_schemas
from hub.logging import get_logger
from hub.settings import Settings
from hub.types.events import SOURCE_TOPICS

log = get_logger("hub.web.view")

OBSERVATORY_TOPIC = re.compile(r"^observatoire\.(.+)\.cases\.v1$")
DLQ_SUFFIX = ".dlq"
_SOURCE_OF_TOPIC = {t: s for s, t in SOURCE_TOPICS.items()}


def wanted(topic: str) -> bool:
    return (
        topic in (CASES, ACTIONS, DIRECTORY, WATERMARKS, SCHEMAS)
        or OBSERVATORY_TOPIC.match(topic) is not None
        or topic.endswith(DLQ_SUFFIX)
    )


def source_of_dlq(topic: str) -> str:
    base = topic.removesuffix(DLQ_SUFFIX)
    return _SOURCE_OF_TOPIC.get(base, base)


@dataclass(frozen=True, slots=True)
class ActionSeen:
    """A counsellor's action as read from suivi.actions.v1 (no personal data kept)."""

    event_id: str
    case_id: str
    action: str
    solution: str | None
    event_date: date
    auteur: str
    source_ref: str


class TopicView:
    def __init__(self, settings: Settings, codec: Codec | None = None) -> None:
        self.settings = settings
        self.codec = codec or get_codec()
        # cases.v1
        self.cases: dict[str, dict[str, Any]] = {}
        self.by_assignee: dict[str, set[str]] = defaultdict(set)
        # observatoire.<CODE>.cases.v1
        self.observatories: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        # suivi.actions.v1
        self.actions: dict[str, list[ActionSeen]] = defaultdict(list)
        self.action_ids: set[str] = set()
        # hub.directory.v1
        self.directory_entries: dict[str, dict] = {}
        self.directory = None  # DirectoryIndex once a complete version is read
        # hub.watermarks.v1
        self.watermarks: dict[str, date] = {}
        # <topic>.dlq: (source, reason) → count
        self.dead_letters: Counter[tuple[str, str]] = Counter()
        self.unreadable: Counter[str] = Counter()
        self._unknown_fingerprints: set[int] = set()  # on hub.schemas.v1 neither

        self._consumer: AIOKafkaConsumer | None = None
        # Metadata and end offsets are asked on a connection of their own: on the
        # fetching consumer's they would queue behind its long-poll fetch.
        self._probe: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None
        self._assigned: set[TopicPartition] = set()
        self._next: dict[TopicPartition, int] = {}
        self._progress = asyncio.Event()
        self._assign_lock = asyncio.Lock()
        self._sync: asyncio.Task | None = None
        self.synced_at: float = 0.0
        self.ready = False

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._consumer = client.consumer(settings=self.settings, group_id=None, max_poll_records=5000,
                                         fetch_max_wait_ms=200)
        await self._consumer.start()
        self._probe = client.consumer(settings=self.settings, group_id=None)
        await self._probe.start()
        await self._reassign()
        self._task = asyncio.create_task(self._run(), name="hub-web-view")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 — stopping anyway
                pass
            self._task = None
        for consumer in (self._consumer, self._probe):
            if consumer is not None:
                await client.stop_consumer(consumer)
        self._consumer = self._probe = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- freshness ----------------------------------------------------------------------

    async def sync(self, timeout: float = 5.0) -> bool:
        """Wait until every record present now on the watched topics is in the view.
        Concurrent callers share one round trip. False on timeout (the view is served
        as it is)."""
        if self._sync is None or self._sync.done():
            self._sync = asyncio.create_task(self._sync_once())
        try:
            await asyncio.wait_for(asyncio.shield(self._sync), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            return False
        except Exception as exc:  # noqa: BLE001 — Kafka unavailable: serve what we have
            log.warning("view sync failed", reason=f"{type(exc).__name__}: {exc}"[:200])
            return False
        return True

    async def _sync_once(self) -> None:
        assert self._consumer is not None
        await self._reassign()
        tps = sorted(self._assigned)
        if not tps:
            self.synced_at = time.monotonic()
            self.ready = True
            return
        assert self._probe is not None
        targets = await self._probe.end_offsets(tps)
        while True:
            behind = [tp for tp in tps if self._next.get(tp, 0) < targets[tp]]
            if behind:
                # Compaction holes and transaction markers: the position may be past the
                # last record read.
                for tp in behind:
                    if tp in self._assigned:
                        try:
                            position = await self._consumer.position(tp)
                        except Exception:  # noqa: BLE001 — re-assigned meanwhile: ask again later
                            continue
                        if position > self._next.get(tp, 0):
                            self._next[tp] = position
                behind = [tp for tp in tps if self._next.get(tp, 0) < targets[tp] and tp in self._assigned]
            if not behind:
                break
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), 0.5)
            except (TimeoutError, asyncio.TimeoutError):
                pass
        self.synced_at = time.monotonic()
        self.ready = True

    async def _reassign(self) -> None:
        """Assign every partition of every watched topic (new observatories appear with
        a directory load); positions already reached are kept."""
        async with self._assign_lock:
            await self._reassign_locked()

    async def _reassign_locked(self) -> None:
        consumer, probe = self._consumer, self._probe
        assert consumer is not None and probe is not None
        await probe._client.force_metadata_update()  # noqa: SLF001 — as hub.kafka.client
        cluster = probe._client.cluster  # noqa: SLF001
        tps = {
            TopicPartition(topic, p)
            for topic in cluster.topics()
            if wanted(topic)
            for p in (cluster.partitions_for_topic(topic) or ())
        }
        if tps == self._assigned:
            return
        # Re-assigning resets positions: seek back to what was already read.
        consumer.assign(sorted(tps))
        for tp in tps:
            if tp in self._next:
                consumer.seek(tp, self._next[tp])
        fresh = [tp for tp in tps if tp not in self._next]
        self._assigned = tps
        if fresh:
            await consumer.seek_to_beginning(*fresh)

    async def _run(self) -> None:
        assert self._consumer is not None
        last_topics = time.monotonic()
        while True:
            try:
                if time.monotonic() - last_topics > 10:
                    await self._reassign()
                    last_topics = time.monotonic()
                if not self._assigned:
                    await asyncio.sleep(0.5)
                    continue
                batches = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — Kafka hiccup: aiokafka reconnects
                log.warning("view consumer error", reason=f"{type(exc).__name__}: {exc}"[:200])
                await asyncio.sleep(1)
                continue
            # A newer schema version before the records written with it (Codec.learn); a
            # record whose version comes in a later fetch reads the topic (`_apply_learning`).
            for tp, records in sorted(batches.items(), key=lambda item: item[0].topic != SCHEMAS):
                if tp not in self._assigned:
                    continue
                done = self._next.get(tp, 0)
                for record in records:
                    if record.offset >= done:  # never twice (DLQ counts add up)
                        await self._apply_learning(tp.topic, record)
                if records:
                    self._next[tp] = max(self._next.get(tp, 0), records[-1].offset + 1)
            self._progress.set()

    # -- applying records ---------------------------------------------------------------

    async def _apply_learning(self, topic: str, record) -> None:
        """`_apply`, after reading hub.schemas.v1 again when the record's schema version
        is not known yet: its schema record may come in a later fetch than the record
        (the schemas topic is read first in each fetch only). A fingerprint still
        unknown after that is remembered, and its records counted unreadable without
        reading the topic again for each."""
        try:
            self._apply(topic, record)
        except UnknownFingerprint as exc:
            if exc.fingerprint not in self._unknown_fingerprints:
                await learn_schemas(self.codec, self.settings)
                try:
                    self._apply(topic, record)
                    return
                except UnknownFingerprint:
                    self._unknown_fingerprints.add(exc.fingerprint)
            self.unreadable[topic] += 1

    def _apply(self, topic: str, record) -> None:
        """Apply one record; raises UnknownFingerprint (nothing applied) when its schema
        version is not known (see `_apply_learning`)."""
        try:
            if topic == SCHEMAS:
                if record.value is not None:
                    self.codec.learn(record.value)
            elif topic == CASES:
                self._apply_case(record.key, record.value)
            elif topic == ACTIONS:
                self._apply_action(record.value)
            elif topic == DIRECTORY:
                self._apply_directory(record.key, record.value)
            elif topic == WATERMARKS:
                self._apply_watermark(record.key, record.value)
            elif topic.endswith(DLQ_SUFFIX):
                self._apply_dead_letter(topic, record)
            else:
                match = OBSERVATORY_TOPIC.match(topic)
                if match:
                    self._apply_observatory(match.group(1), record.key, record.value)
        except UnknownFingerprint:
            raise
        except (CodecError, ValueError, KeyError, TypeError):
            self.unreadable[topic] += 1

    def _apply_case(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            if key is not None:
                self._drop_case(key.decode())
            return
        case = self.codec.decode(value)
        cid = case["case_id"]
        self._drop_case(cid)
        self.cases[cid] = case
        code = (case.get("assigned_to") or {}).get("code")
        if code:
            self.by_assignee[code].add(cid)

    def _drop_case(self, cid: str) -> None:
        old = self.cases.pop(cid, None)
        if old is not None:
            code = (old.get("assigned_to") or {}).get("code")
            if code:
                self.by_assignee[code].discard(cid)

    def _apply_observatory(self, code: str, key: bytes | None, value: bytes | None) -> None:
        table = self.observatories[code]
        if value is None:
            if key is not None:
                table.pop(key.decode(), None)
            return
        case = self.codec.decode(value)
        table[case["case_id"]] = case

    def _apply_action(self, value: bytes | None) -> None:
        if value is None:
            return
        ev = self.codec.decode(value)
        self.add_action(
            ActionSeen(
                event_id=ev["event_id"],
                case_id=ev["case_id"],
                action=ev["action"],
                solution=ev.get("solution"),
                event_date=ev["event_date"],
                auteur=ev["auteur"],
                source_ref=ev["source_ref"],
            )
        )

    def add_action(self, action: ActionSeen) -> None:
        """An action known to be on suivi.actions.v1 (read back, or just published)."""
        if action.event_id in self.action_ids:
            return
        self.action_ids.add(action.event_id)
        self.actions[action.case_id].append(action)

    def _apply_directory(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode()
        if value is None:
            self.directory_entries.pop(name, None)
        else:
            self.directory_entries[name] = json.loads(value)
        if name == META_KEY and value is not None:
            from hub.directory import from_entries

            try:
                self.directory = from_entries(self.directory_entries.items())
            except Exception as exc:  # noqa: BLE001 — keep the previous complete version
                log.warning("directory version unreadable", reason=str(exc)[:200])

    def _apply_watermark(self, key: bytes | None, value: bytes | None) -> None:
        if value is None or key is None:
            return
        mark = self.codec.decode(value)
        source = key.decode()
        as_of = mark["as_of"]
        if source not in self.watermarks or as_of > self.watermarks[source]:
            self.watermarks[source] = as_of

    def _apply_dead_letter(self, topic: str, record) -> None:
        reason = None
        for name, value in record.headers or ():
            if name == "reason":
                reason = value.decode(errors="replace")
        if reason is None and record.value is not None:
            reason = self.codec.decode(record.value).get("reason")
        self.dead_letters[(source_of_dlq(topic), reason or "INCONNU")] += 1
