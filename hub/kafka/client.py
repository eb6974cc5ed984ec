"""Where the cluster is, and clients configured the way the hub needs them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from hub.errors import BrokerError
from hub.settings import Settings, get_settings

if TYPE_CHECKING:
    from hub.kafka.embedded import EmbeddedKafka

CURRENT_BROKER = "kafka.json"


def remember_embedded(home: Path, bootstrap: str, data_dir: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / CURRENT_BROKER).write_text(json.dumps({"bootstrap": bootstrap, "data_dir": str(data_dir)}))


def embedded_record(home: Path) -> dict | None:
    try:
        return json.loads((home / CURRENT_BROKER).read_text())
    except (OSError, ValueError):
        return None


def recorded_broker(settings: Settings) -> tuple[EmbeddedKafka, int] | None:
    """The embedded broker `hub kafka start` last recorded for this HUB_HOME, and its
    port: (EmbeddedKafka, port), or None when none was recorded."""
    from hub.kafka.embedded import EmbeddedKafka

    record = embedded_record(settings.home)
    if not record or not record.get("data_dir"):
        return None
    return EmbeddedKafka(Path(record["data_dir"]), settings.jar_cache), int(record["bootstrap"].rsplit(":", 1)[1])


def bootstrap_servers(settings: Settings | None = None) -> str:
    """HUB_KAFKA_BOOTSTRAP when set, else the embedded broker last started here."""
    settings = settings or get_settings()
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    record = embedded_record(settings.home)
    if record:
        return record["bootstrap"]
    raise BrokerError("aucun Kafka : lancez `hub kafka start` ou donnez HUB_KAFKA_BOOTSTRAP")


def producer(settings: Settings | None = None, **overrides) -> AIOKafkaProducer:
    """Idempotent, acks=all: a retried send never duplicates a record (faust #606 aside)."""
    options = dict(
        bootstrap_servers=bootstrap_servers(settings),
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        request_timeout_ms=30000,
    )
    options.update(overrides)
    return AIOKafkaProducer(**options)


def consumer(*topics: str, settings: Settings | None = None, **overrides) -> AIOKafkaConsumer:
    options = dict(
        bootstrap_servers=bootstrap_servers(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


def admin(settings: Settings | None = None) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(settings), request_timeout_ms=30000)


async def started(kafka_client: AIOKafkaProducer | AIOKafkaConsumer | AIOKafkaAdminClient):
    """Start a client, or close it when starting fails: an unreachable broker then
    leaves no "Unclosed AIOKafkaProducer" warning after the command's one-line error."""
    try:
        await kafka_client.start()
    except BaseException:
        if isinstance(kafka_client, AIOKafkaAdminClient):
            await kafka_client.close()
        else:
            await kafka_client.stop()
        raise
    return kafka_client


async def answers(request: Awaitable, timeout: float) -> bool:
    """Whether `request`, a call to the broker, completes within `timeout` seconds: any
    failure counts as the broker not answering."""
    try:
        await asyncio.wait_for(request, timeout)
        return True
    except Exception:  # noqa: BLE001 — any failure is "not answering"
        return False


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer. aiokafka 0.14 can surface the cancellation of its own internal
    task when stopped right after `assign()`; only a cancellation of ours propagates."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """Partitions of `topic`; a consumer that subscribed to nothing knows no topic until
    its metadata is refreshed."""
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await consumer._client.force_metadata_update()  # noqa: SLF001 — no public equivalent
        partitions = consumer.partitions_for_topic(topic)
    return sorted(partitions or ())
