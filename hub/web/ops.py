"""What operators watch: topics and end offsets, the engine's lag, dead letters, the
source watermarks and the clock. Shared by the operator page, `/metrics` and
`hub status`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hub.avro.codec import CodecError, get_codec
from hub.kafka import client
from hub.kafka.topics import DIRECTORY, WATERMARKS
from hub.kafka.watermarks import clock_of, read_watermarks
from hub.settings import Settings
from hub.types.events import CLOCK_SOURCES, SOURCE_TOPICS
from hub.web.view import DLQ_SUFFIX, source_of_dlq

PARIS = ZoneInfo("Europe/Paris")


def today() -> date:
    """Today in France: what `FUTURE_DATE` and the age of the clock are measured against."""
    return datetime.now(PARIS).date()


def worker_input_topics(settings: Settings) -> list[str]:
    """The topics the engine consumes (hub.worker.run's list, without importing Faust)."""
    return [*SOURCE_TOPICS.values(), f"{settings.worker_id}-engine-persons", WATERMARKS, DIRECTORY]


def topic_kind(name: str) -> str:
    if name in SOURCE_TOPICS.values():
        return "source"
    if name.endswith(DLQ_SUFFIX):
        return "dlq"
    if name == "cases.v1" or (name.startswith("observatoire.") and name.endswith(".cases.v1")):
        return "cases"
    if name.startswith("hub."):
        return "reference"
    return "internal"


@dataclass(frozen=True, slots=True)
class TopicInfo:
    name: str
    partitions: int
    begin: int
    end: int

    @property
    def messages(self) -> int:
        return self.end - self.begin

    @property
    def kind(self) -> str:
        return topic_kind(self.name)


@dataclass
class OpsReport:
    topics: list[TopicInfo]
    group: str
    group_known: bool
    lag: dict[str, int]  # worker input topic → records not yet committed by the group
    dead_letters: dict[tuple[str, str], int]
    watermarks: dict[str, date]
    collected_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def clock(self) -> date | None:
        return clock_of(self.watermarks)

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())

    def clock_age_days(self, on: date | None = None) -> int | None:
        clock = self.clock
        return None if clock is None else ((on or today()) - clock).days

    def as_json(self) -> dict:
        clock = self.clock
        return {
            "topics": [{"topic": t.name, "partitions": t.partitions, "begin": t.begin, "end": t.end,
                        "messages": t.messages} for t in self.topics],
            "worker": {"group": self.group, "known": self.group_known, "lag": self.lag, "total_lag": self.total_lag},
            "dead_letters": [{"source": s, "reason": r, "count": n}
                             for (s, r), n in sorted(self.dead_letters.items())],
            "watermarks": {s: d.isoformat() for s, d in sorted(self.watermarks.items())},
            "clock_sources": list(CLOCK_SOURCES),
            "clock": clock.isoformat() if clock else None,
            "clock_age_days": self.clock_age_days(),
        }


Offsets = dict[TopicPartition, int]


async def topic_offsets(consumer: AIOKafkaConsumer) -> tuple[list[TopicInfo], Offsets, Offsets]:
    """Every non-internal topic with its partitions' summed beginning and end offsets;
    and the beginning and end offset of each partition."""
    await consumer._client.force_metadata_update()  # noqa: SLF001 — as hub.kafka.client
    cluster = consumer._client.cluster  # noqa: SLF001
    names = sorted(t for t in cluster.topics() if not t.startswith("__"))
    tps = [TopicPartition(t, p) for t in names for p in sorted(cluster.partitions_for_topic(t) or ())]
    if not tps:
        return [], {}, {}
    ends = await consumer.end_offsets(tps)
    begins = await consumer.beginning_offsets(tps)
    infos = []
    for name in names:
        parts = [tp for tp in tps if tp.topic == name]
        infos.append(TopicInfo(name, len(parts), sum(begins[tp] for tp in parts), sum(ends[tp] for tp in parts)))
    return infos, begins, ends


async def group_lag(admin: AIOKafkaAdminClient, group: str, begins: Offsets, ends: Offsets,
                    inputs: list[str]) -> tuple[bool, dict[str, int]]:
    """(whether the group ever committed, lag per input topic). A partition the group has
    no commit for counts all its records as lag."""
    try:
        committed = await admin.list_consumer_group_offsets(group)
    except Exception:  # noqa: BLE001 — unknown group, coordinator not ready
        committed = {}
    known = any(o.offset >= 0 for o in committed.values())
    lag: Counter[str] = Counter()
    present = set()
    for tp, end in ends.items():
        if tp.topic not in inputs:
            continue
        present.add(tp.topic)
        begin = begins.get(tp, 0)
        done = committed.get(tp)
        position = done.offset if done is not None and done.offset >= 0 else begin
        lag[tp.topic] += max(0, end - max(position, begin))
    return known, {t: lag.get(t, 0) for t in inputs if t in present}


async def count_dead_letters(consumer: AIOKafkaConsumer, topics: list[str]) -> dict[tuple[str, str], int]:
    """Dead letters per (source, reason), from the `reason` header of every `.dlq` record."""
    cluster = consumer._client.cluster  # noqa: SLF001
    tps = [TopicPartition(t, p) for t in topics if t.endswith(DLQ_SUFFIX)
           for p in sorted(cluster.partitions_for_topic(t) or ())]
    counts: Counter[tuple[str, str]] = Counter()
    if not tps:
        return {}
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    ends = await consumer.end_offsets(tps)
    codec = get_codec()
    remaining = {tp for tp in tps if ends[tp] > 0}
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10000)
        for tp, records in batches.items():
            for record in records:
                if record.offset >= ends[tp]:
                    continue
                reason = next((v.decode(errors="replace") for k, v in record.headers or () if k == "reason"), None)
                if reason is None and record.value is not None:
                    try:
                        reason = codec.decode(record.value).get("reason")
                    except CodecError:
                        reason = None
                counts[(source_of_dlq(tp.topic), reason or "INCONNU")] += 1
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
    return dict(counts)


async def collect(
    settings: Settings,
    consumer: AIOKafkaConsumer,
    admin: AIOKafkaAdminClient,
    *,
    dead_letters: dict[tuple[str, str], int] | None = None,
    watermarks: dict[str, date] | None = None,
) -> OpsReport:
    """One report. The web process passes the dead letters and watermarks its view
    already holds; `hub status` lets them be read here."""
    topics, begins, ends = await topic_offsets(consumer)
    inputs = worker_input_topics(settings)
    known, lag = await group_lag(admin, settings.worker_id, begins, ends, inputs)
    if dead_letters is None:
        dead_letters = await count_dead_letters(consumer, [t.name for t in topics])
    if watermarks is None:
        watermarks = await read_watermarks(settings)
    return OpsReport(topics=topics, group=settings.worker_id, group_known=known, lag=lag,
                     dead_letters=dict(dead_letters), watermarks=dict(watermarks))


async def collect_once(settings: Settings, timeout: float = 60) -> OpsReport:
    """`hub status`: a report with clients of its own."""
    consumer = client.consumer(settings=settings, group_id=None)
    admin = client.admin(settings)
    try:
        await consumer.start()
        await client.started(admin)
        try:
            return await asyncio.wait_for(collect(settings, consumer, admin), timeout)
        finally:
            await admin.close()
    finally:
        await client.stop_consumer(consumer)
