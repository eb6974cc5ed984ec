"""`hub ingest SOURCE PATH [--as-of DATE] [--json]`: run one connector."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from connectors import SOURCES, get_connector, run_ingest
from connectors.core.types import Connector, IngestResult
from hub.cli.common import run_async
from hub.directory_feed import read_directory
from hub.errors import InputError
from hub.kafka.seen import KafkaSeenEvents
from hub.locks import source_lock
from hub.kafka.sink import KafkaSink
from hub.kafka.snapshots import KafkaSnapshotStore
from hub.kafka.topics import ensure_topics
from hub.logging import get_logger
from hub.runtime import freeze_startup
from hub.settings import DEFAULT_PSEUDONYM_SECRET, DEFAULT_SECRET_WARNING, get_settings
from hub.validation import FieldError, parse_date


def _as_of(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except FieldError as exc:
        hint = "" if "JJ/MM/AAAA" in exc.detail else " (JJ/MM/AAAA ou AAAA-MM-JJ attendu)"
        raise click.BadParameter(exc.detail + hint) from None


def check_path(connector: Connector, path: Path) -> None:
    """Refuse a path that cannot be read (InputError, exit 2) before any Kafka connection,
    so the user learns about a typo even when the broker is down."""
    if not path.exists():
        raise InputError(f"{path}: fichier introuvable")
    is_dir = path.is_dir()
    if is_dir and not connector.accepts_directory_path:
        raise InputError(f"{path}: un fichier est attendu, pas un dossier")
    if not os.access(path, os.R_OK | os.X_OK if is_dir else os.R_OK):
        raise InputError(f"{path}: lecture impossible (permission refusée)")


async def ingest_path(source: str, path: Path, as_of: date | None, progress=None) -> IngestResult:
    settings = get_settings()
    connector = get_connector(source)
    check_path(connector, path)
    # The source's topics, its DLQ and hub.schemas.v1 exist even when nobody ran
    # `hub topics apply` on this broker.
    await ensure_topics(settings)
    async with source_lock(settings, source, "hub ingest"):
        directory = await read_directory(settings) if connector.needs_directory else None
        snapshots = KafkaSnapshotStore(settings) if connector.needs_snapshots else None
        seen = KafkaSeenEvents(settings)
        freeze_startup()  # the directory included (hub/runtime.py)
        try:
            async with KafkaSink(settings) as sink:
                return await run_ingest(
                    connector, path, sink=sink, seen=seen, snapshots=snapshots,
                    directory=directory, as_of=as_of, settings=settings, progress=progress,
                )
        finally:
            for store in (seen, snapshots):
                if store is not None and hasattr(store, "close"):
                    store.close()


@click.command()
@click.argument("source", type=click.Choice(SOURCES))
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--as-of", callback=_as_of, help="How far the data is complete (default: per source, see inputs.md).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@run_async
async def ingest(source: str, path: Path, as_of: date | None, as_json: bool) -> None:
    """Read PATH with the SOURCE connector, publish its events and print the counts.

    Every record read ends published, unchanged, filtered (under 15) or rejected (sent to
    the source's dead-letter topic with its reason).
    """
    if sys.stderr.isatty() and not as_json:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                      TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task(f"{source} {path.name}", total=None)
            result = await ingest_path(source, path, as_of,
                                       lambda done, total: bar.update(task, completed=done, total=total or None))
    else:
        result = await ingest_path(source, path, as_of)
    if result.published and get_settings().pseudonym_secret == DEFAULT_PSEUDONYM_SECRET:
        get_logger("hub.ingest").warning(DEFAULT_SECRET_WARNING)  # after the run: a refused file says one line
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    click.echo(
        f"{source} : {result.read} lus, {result.published} publiés, {result.unchanged} inchangés, "
        f"{result.filtered} filtrés, {result.rejected} rejetés ({result.warnings} avertissements, "
        f"{result.events} événements, à jour au {result.as_of.isoformat() if result.as_of else '—'})"
    )
