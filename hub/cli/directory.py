"""`hub directory load FILE`."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli.common import run_async
from hub.directory import load_directory
from hub.directory_feed import publish_directory
from hub.kafka.topics import ensure_topics
from hub.settings import get_settings


@click.group()
def directory() -> None:
    """The directory: who covers which territory (inputs.md §6)."""


@directory.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@run_async
async def load(file: Path) -> None:
    """Validate FILE (YAML) and publish it as the new directory, replacing the old one."""
    data = load_directory(file)  # DirectoryError names every bad entry, exit 2
    settings = get_settings()
    # Each observatory has its own case topic: create those of the new directory (and
    # the hub's topics and schemas on a broker nobody prepared).
    await ensure_topics(settings, [o.code for o in data.observatoires], align=True)
    result = await publish_directory(data, settings)
    click.echo(
        f"annuaire publié : {len(data.observatoires)} observatoires, {len(data.missions_locales)} missions locales, "
        f"{len(data.ctis)} CTI, {len(data.etablissements)} établissements "
        f"({result['written']} entrées écrites, {result['removed']} retirées, {result['unchanged']} inchangées)"
    )
