"""`hub demo`: the main job end to end on the embedded default and the sample data."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from hub.directory import load_directory
from hub.directory_feed import publish_directory
from hub.kafka import client
from hub.kafka.client import remember_embedded
from hub.kafka.embedded import REPO_ROOT, EmbeddedKafka
from hub.kafka.topics import apply_topics, declared_topics
from hub.settings import get_settings

SAMPLE_DIRECTORY = REPO_ROOT / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"


def _ensure_broker() -> str:
    """HUB_KAFKA_BOOTSTRAP when set; otherwise the embedded broker, started if needed."""
    settings = get_settings()
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    broker = EmbeddedKafka(settings.data_dir, settings.jar_cache)
    info = broker.running() or broker.start(settings.kafka_port)
    remember_embedded(settings.home, info.bootstrap, broker.data_dir)
    return info.bootstrap


async def _prepare(directory_file: Path) -> dict:
    settings = get_settings()
    data = load_directory(directory_file)
    admin = client.admin(settings)
    await admin.start()
    try:
        observatories = [o.code for o in data.observatoires]
        report = await apply_topics(admin, declared_topics(settings, observatories), settings.replication_factor)
    finally:
        await admin.close()
    from hub.cli.topics import publish_schemas

    await publish_schemas(settings)
    published = await publish_directory(data, settings)
    return {"topics_created": len(report.created), "directory": published, "data": data}


@click.command()
@click.option("--directory", "directory_file", type=click.Path(dir_okay=False, path_type=Path),
              default=SAMPLE_DIRECTORY, show_default=True, help="Directory YAML to load.")
def demo(directory_file: Path) -> None:
    """Run the main job on the embedded broker: broker, topics, directory, sample data, cases."""
    bootstrap = _ensure_broker()
    click.echo(f"Kafka : {bootstrap}")
    result = asyncio.run(_prepare(directory_file))
    data = result["data"]
    click.echo(f"Topics : {result['topics_created']} créés ; schémas publiés sur hub.schemas.v1")
    click.echo(
        f"Annuaire : {len(data.observatoires)} observatoires, {len(data.missions_locales)} missions locales, "
        f"{len(data.etablissements)} établissements"
    )
