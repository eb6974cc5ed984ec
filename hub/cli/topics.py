"""`hub topics apply|list`."""

from __future__ import annotations

import click

from hub.avro.registry import schema_records
from hub.cli.common import run_async
from hub.kafka import client
from hub.directory_feed import read_directory
from hub.kafka.topics import SCHEMAS, apply_topics, declared_topics, describe_topics
from hub.settings import get_settings


async def _observatories() -> list[str]:
    """Observatory codes of the directory published on Kafka (none before a load)."""
    index = await read_directory()
    return list(index.observatoires) if index else []


async def publish_schemas(settings) -> int:
    """Every schema version on `hub.schemas.v1`, so another institution can resolve a
    fingerprint from Kafka itself (idempotent: compacted, same bytes)."""
    records = schema_records()
    producer = client.producer(settings)
    await producer.start()
    try:
        for key, value in records:
            await producer.send(SCHEMAS, value, key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()
    return len(records)


@click.group()
def topics() -> None:
    """Create, update and list the hub's topics."""


@topics.command()
@run_async
async def apply() -> None:
    """Create or update every declared topic (idempotent)."""
    settings = get_settings()
    specs = declared_topics(settings, await _observatories())
    admin = client.admin(settings)
    await admin.start()
    try:
        report = await apply_topics(admin, specs, settings.replication_factor)
    finally:
        await admin.close()
    published = await publish_schemas(settings)
    click.echo(
        f"topics : {len(report.created)} créés, {len(report.altered)} mis à jour, "
        f"{len(report.repartitioned)} repartitionnés, {len(report.unchanged)} inchangés; {published} schémas publiés sur {SCHEMAS}"
    )


@topics.command(name="list")
@run_async
async def list_topics() -> None:
    """Show every declared topic with its partitions and settings."""
    settings = get_settings()
    specs = declared_topics(settings, await _observatories())
    admin = client.admin(settings)
    await admin.start()
    try:
        described = await describe_topics(admin, [s.name for s in specs])
    finally:
        await admin.close()
    width = max(len(s.name) for s in specs)
    for spec in specs:
        current = described.get(spec.name)
        if current is None:
            click.echo(f"{spec.name:<{width}}  absent (run `hub topics apply`)")
            continue
        cfg = current["configs"]
        click.echo(
            f"{spec.name:<{width}}  partitions={current['partitions']} "
            f"cleanup={cfg.get('cleanup.policy')} retention.ms={cfg.get('retention.ms')}"
        )

