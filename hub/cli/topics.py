"""`hub topics apply|list`."""

from __future__ import annotations

import click

from hub.cli.common import run_async
from hub.kafka import client
from hub.directory_feed import read_directory
from hub.kafka.topics import SCHEMAS, declared_topics, describe_topics, ensure_topics, worker_topics
from hub.settings import get_settings


async def _observatories() -> list[str]:
    """Observatory codes of the directory published on Kafka (none before a load)."""
    index = await read_directory()
    return list(index.observatoires) if index else []


@click.group()
def topics() -> None:
    """Create, update and list the hub's topics."""


@topics.command()
@run_async
async def apply() -> None:
    """Create or update every declared topic (idempotent), and publish on hub.schemas.v1
    the schemas it lacks."""
    settings = get_settings()
    report = await ensure_topics(settings, await _observatories(), align=True)
    click.echo(
        f"topics : {len(report.created)} créés, {len(report.altered)} mis à jour, "
        f"{len(report.repartitioned)} repartitionnés, {len(report.unchanged)} inchangés; "
        f"{report.schemas} schémas publiés sur {SCHEMAS}"
    )


@topics.command(name="list")
@run_async
async def list_topics() -> None:
    """Show every declared topic with its partitions and settings, then the engine's own
    topics (those of HUB_WORKER_ID: its internal messages and its state's changelogs,
    created by `hub worker`)."""
    settings = get_settings()
    specs = declared_topics(settings, await _observatories())
    engine = worker_topics(settings, settings.topic_partitions)
    admin = client.admin(settings)
    await client.started(admin)
    try:
        described = await describe_topics(admin, [s.name for s in specs + engine])
    finally:
        await admin.close()
    width = max(len(s.name) for s in specs + engine)
    for spec, missing in [(s, "absent (run `hub topics apply`)") for s in specs] + [
            (s, "absent (created by `hub worker`)") for s in engine]:
        current = described.get(spec.name)
        if current is None:
            click.echo(f"{spec.name:<{width}}  {missing}")
            continue
        cfg = current["configs"]
        click.echo(
            f"{spec.name:<{width}}  partitions={current['partitions']} "
            f"cleanup={cfg.get('cleanup.policy')} retention.ms={cfg.get('retention.ms')}"
        )
