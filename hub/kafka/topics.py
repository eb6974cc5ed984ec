"""Every topic of interfaces.md, declared once, applied idempotently.

Person-keyed topics share one partition count so that one person's events from every
source land on the same partition number (co-partitioning, which Faust relies on).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hub.errors import BrokerError, HubError
from hub.kafka import client
from hub.settings import Settings, get_settings
from hub.types.cases import HORS_TERRITOIRE
from hub.types.events import SOURCE_TOPICS

DAY_MS = 24 * 3600 * 1000
FOREVER = -1
# Source events are kept a little longer than the 24-month case retention, so that the
# engine can always be rebuilt from them for every case still alive.
EVENT_RETENTION_MS = 25 * 31 * DAY_MS
DLQ_RETENTION_MS = 365 * DAY_MS

WATERMARKS = "hub.watermarks.v1"
DIRECTORY = "hub.directory.v1"
SCHEMAS = "hub.schemas.v1"
LITIGES = "hub.identites.litiges.v1"
CASES = "cases.v1"
ACTIONS = SOURCE_TOPICS["suivi"]
# Connector state (SIECLE snapshots): internal, compacted, found by a run on any machine.
SNAPSHOTS = "hub.connectors.snapshots.v1"


def dlq_topic(source_topic: str) -> str:
    return f"{source_topic}.dlq"


def observatory_topic(code: str) -> str:
    return f"observatoire.{code}.cases.v1"


TOPIC_ALREADY_EXISTS = 36  # Kafka error code: created meanwhile, by another command


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    retention_ms: int = FOREVER
    extra: dict[str, str] = field(default_factory=dict)

    def configs(self, replication_factor: int) -> dict[str, str]:
        configs = {
            "cleanup.policy": "compact" if self.compacted else "delete",
            "retention.ms": str(self.retention_ms),
            "min.insync.replicas": str(min(2, replication_factor)),
        }
        if self.compacted:
            # Tombstones (retention erasure) must stay long enough for every consumer.
            configs["delete.retention.ms"] = str(7 * DAY_MS)
            configs["min.compaction.lag.ms"] = "0"
        configs.update(self.extra)
        return configs


def declared_topics(settings: Settings | None = None, observatories: list[str] | tuple[str, ...] = ()) -> list[TopicSpec]:
    settings = settings or get_settings()
    n = settings.topic_partitions
    specs: list[TopicSpec] = []
    for source, topic in SOURCE_TOPICS.items():
        specs.append(TopicSpec(topic, n, retention_ms=EVENT_RETENTION_MS))
        if source != "suivi":
            specs.append(TopicSpec(dlq_topic(topic), 1, retention_ms=DLQ_RETENTION_MS))
    specs += [
        TopicSpec(WATERMARKS, 1, compacted=True),
        TopicSpec(DIRECTORY, 1, compacted=True),
        TopicSpec(SCHEMAS, 1, compacted=True),
        TopicSpec(LITIGES, n, retention_ms=EVENT_RETENTION_MS),
        TopicSpec(CASES, n, compacted=True),
        TopicSpec(SNAPSHOTS, 1, compacted=True, extra={"max.message.bytes": str(16 * 1024 * 1024)}),
    ]
    for code in sorted({*observatories, HORS_TERRITOIRE}):
        specs.append(TopicSpec(observatory_topic(code), n, compacted=True))
    return specs


# The engine's own topics (`hub worker` creates them, with the partition count of the
# person-keyed sources): one set per HUB_WORKER_ID, so that two engines (tests,
# blue/green) never read each other's. Internal: their values are read by the worker
# only (hub/worker/messages.py, hub/worker/state.py).
PERSONS_TABLE = "persons"
CLOCK_TABLE = "clock"


def internal_topic_name(settings: Settings) -> str:
    """The engine's internal messages (identity linking, clock ticks, directory updates)."""
    return f"{settings.worker_id}-engine-persons"


def changelog_topic_name(settings: Settings, table: str) -> str:
    """Faust's name for a table's changelog topic: the worker's state."""
    return f"{settings.worker_id}-{table}-changelog"


def worker_topics(settings: Settings, partitions: int) -> list[TopicSpec]:
    return [
        TopicSpec(internal_topic_name(settings), partitions, retention_ms=EVENT_RETENTION_MS),
        TopicSpec(changelog_topic_name(settings, PERSONS_TABLE), partitions, compacted=True),
        TopicSpec(changelog_topic_name(settings, CLOCK_TABLE), 1, compacted=True),
    ]


def compacted_topics(settings: Settings | None = None) -> frozenset[str]:
    """The declared topics whose log is compacted (holes in their offsets)."""
    return frozenset(spec.name for spec in declared_topics(settings) if spec.compacted)


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    repartitioned: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    schemas: int = 0  # records published on hub.schemas.v1


async def apply_topics(admin: AIOKafkaAdminClient, specs: list[TopicSpec], replication_factor: int) -> ApplyReport:
    """Create what is missing, align configs and grow partitions; never delete.
    (The schemas on `hub.schemas.v1` are `ensure_topics`'s business.)"""
    report = ApplyReport()
    existing = set(await admin.list_topics())
    missing = [s for s in specs if s.name not in existing]
    if missing:
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, replication_factor, topic_configs=s.configs(replication_factor)) for s in missing]
        )
        # The response carries one error per topic (aiokafka raises for none of them).
        refused = [(e[0], e[2] if len(e) > 2 and e[2] else f"code {e[1]}")
                   for e in response.topic_errors if e[1] not in (0, TOPIC_ALREADY_EXISTS)]
        if refused:
            raise BrokerError("; ".join(f"topic {name} refusé par Kafka : {why}" for name, why in refused))
        report.created = [s.name for s in missing]
        await _wait_for_leaders(admin, report.created)
    present = [s for s in specs if s.name in existing]
    if not present:
        return report
    described = await describe_topics(admin, [s.name for s in present])
    for spec in present:
        current = described[spec.name]
        wanted = spec.configs(replication_factor)
        changed = False
        if any(current["configs"].get(k) != v for k, v in wanted.items()):
            await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=wanted)])
            report.altered.append(spec.name)
            changed = True
        if current["partitions"] < spec.partitions:
            await admin.create_partitions({spec.name: NewPartitions(spec.partitions)})
            report.repartitioned.append(spec.name)
            changed = True
        if not changed:
            report.unchanged.append(spec.name)
    return report


async def ensure_topics(settings: Settings | None = None, observatories: list[str] | tuple[str, ...] = (),
                        *, align: bool = False) -> ApplyReport:
    """What a command that writes needs first, on any broker, `hub topics apply` or not:
    the declared topics (the missing ones created; with `align`, existing ones aligned as
    `hub topics apply` does) and every schema of schemas/ on `hub.schemas.v1`."""
    settings = settings or get_settings()
    specs = declared_topics(settings, observatories)
    admin = await client.started(client.admin(settings))
    try:
        if align:
            report = await apply_topics(admin, specs, settings.replication_factor)
        else:
            existing = set(await admin.list_topics())
            missing = [s for s in specs if s.name not in existing]
            report = await apply_topics(admin, missing, settings.replication_factor) if missing else ApplyReport()
            report.unchanged = [s.name for s in specs if s.name in existing]
    finally:
        await admin.close()
    # A topic created just now gets every schema; an existing one what it lacks (e.g. a
    # version added by an upgrade).
    if SCHEMAS in report.created:
        report.schemas = await publish_schemas(settings)
    else:
        report.schemas = await complete_schemas(settings)
    return report


async def publish_schemas(settings: Settings | None = None, only: set[str] | None = None) -> int:
    """Every schema version on `hub.schemas.v1` (or those whose fingerprint is in `only`),
    so another institution can resolve a fingerprint from Kafka itself. Idempotent:
    compacted, key = fingerprint, same bytes every time."""
    from hub.avro.registry import schema_records

    records = [(k, v) for k, v in schema_records() if only is None or k in only]
    if not records:
        return 0
    producer = await client.started(client.producer(settings))
    try:
        for key, value in records:
            await producer.send(SCHEMAS, value, key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()
    return len(records)


async def complete_schemas(settings: Settings | None = None) -> int:
    """Publish the schemas `hub.schemas.v1` lacks (or holds in an older record), e.g.
    after an upgrade added a version; reads the topic (a few dozen records) to know."""
    from hub.avro.frozen import conflicts_with_topic
    from hub.avro.loader import load_dir
    from hub.avro.registry import schema_records
    from hub.kafka.compacted import read_table

    wanted = dict(schema_records())  # a shared fingerprint: the latest record wins
    table = await read_table(SCHEMAS, settings)
    conflicts = conflicts_with_topic(load_dir(), table.values())
    if conflicts:  # publishing would give one name and version two meanings
        raise HubError(conflicts[0] + (f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""))
    return await publish_schemas(settings, {k for k, v in wanted.items() if table.get(k.encode()) != v})


async def learn_schemas(codec, settings: Settings | None = None) -> int:
    """Make `codec` read the schema versions on `hub.schemas.v1` it lacks (a newer
    worker's or connector's, `Codec.learn`) before reading other topics; how many it
    learned."""
    from hub.kafka.compacted import read_table

    return len(learn_from(codec, (await read_table(SCHEMAS, settings)).values()))


def learn_from(codec, records) -> list:
    """`Codec.learn` each `hub.schemas.v1` record value (tombstones skipped); the versions
    learned. A record it cannot use is logged and left: its messages stay unreadable."""
    from hub.avro import CodecError
    from hub.logging import get_logger

    learned = []
    for value in records:
        if value is None:
            continue
        try:
            version = codec.learn(value)
        except CodecError as exc:
            get_logger("hub.kafka.topics").warning("schema record not usable", reason=str(exc)[:300])
            continue
        if version is not None:
            learned.append(version)
    return learned


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout: float = 15.0) -> None:
    """New topics are usable only once every partition has a leader; producing earlier
    only earns retries and warnings."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        metadata = await admin.describe_topics(names)
        if all(not m.get("error_code") and m["partitions"] and all(p["leader"] >= 0 for p in m["partitions"])
               for m in metadata):
            return
        await asyncio.sleep(0.1)


async def describe_topics(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict]:
    """{name: {"partitions": n, "configs": {key: value}}} for existing topics."""
    metadata = await admin.describe_topics(names)
    result = {m["topic"]: {"partitions": len(m["partitions"]), "configs": {}} for m in metadata if not m.get("error_code")}
    if not result:
        return result
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in result])
    for response in responses:
        for resource in response.resources:
            # (error_code, error_message, resource_type, resource_name, config_entries)
            name, entries = resource[3], resource[4]
            if name in result:
                result[name]["configs"] = {entry[0]: entry[1] for entry in entries}
    return result
