"""`hub demo`: the main job end to end on the embedded default and the sample data.

Broker (started if needed) → topics and schemas → sample directory → a seeded,
deterministic Poitou-Charentes school year generated under $HUB_HOME/demo → every
connector → the worker until idle → a summary per observatory, counted from the
observatory topics exactly as `hub cases --observatoire CODE` reads them. Running it
again is harmless: every record is then `unchanged` and the cases stay the same.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path

import click

from hub.directory import load_directory
from hub.directory_feed import publish_directory
from hub.errors import HubError
from hub.kafka import client
from hub.kafka.client import remember_embedded
from hub.kafka.embedded import REPO_ROOT, EmbeddedKafka
from hub.kafka.topics import CASES, apply_topics, declared_topics, observatory_topic
from hub.settings import get_settings
from hub.types.cases import HORS_TERRITOIRE, STATUSES

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


async def _prepare(directory_file: Path):
    from hub.cli.topics import publish_schemas

    settings = get_settings()
    data = load_directory(directory_file)
    admin = client.admin(settings)
    await admin.start()
    try:
        observatories = [o.code for o in data.observatoires]
        await apply_topics(admin, declared_topics(settings, observatories), settings.replication_factor)
    finally:
        await admin.close()
    await publish_schemas(settings)
    await publish_directory(data, settings)
    return data


async def summarize(observatories: list[str]) -> tuple[dict[str, Counter], int]:
    """(type, status) counts per observatory topic, and the number of cases on cases.v1."""
    from hub.cli.cases import read_cases

    per_observatory: dict[str, Counter] = {}
    for code in [*observatories, HORS_TERRITOIRE]:
        records, _ = await read_cases(observatory_topic(code))
        per_observatory[code] = Counter((c["type"], c["status"]) for c in records)
    total, _ = await read_cases(CASES)
    return per_observatory, len(total)


def _print_summary(per_observatory: dict[str, Counter], total: int) -> None:
    click.echo("")
    click.echo(f"Dossiers par observatoire ({total} dossiers sur cases.v1) :")
    for code, counts in per_observatory.items():
        if not counts:
            click.echo(f"  {code} : aucun dossier")
            continue
        click.echo(f"  {code} : {sum(n for (_, s), n in counts.items() if s != 'TRANSFERE')} dossiers")
        for case_type in sorted({t for t, _ in counts}):
            parts = [f"{s} {counts[(case_type, s)]}" for s in STATUSES if counts[(case_type, s)]]
            click.echo(f"    {case_type:<22} {', '.join(parts)}")


@click.command()
@click.option("--people", type=click.IntRange(200, 200_000), default=3000, show_default=True,
              help="Young people in the generated sample.")
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the deterministic generator.")
@click.option("--directory", "directory_file", type=click.Path(dir_okay=False, path_type=Path),
              default=SAMPLE_DIRECTORY, show_default=True, help="Directory YAML to load.")
def demo(people: int, seed: int, directory_file: Path) -> None:
    """Run the main job end to end on the embedded broker and the bundled sample data."""
    from hub.cli.ingest import ingest_path
    from hub.demo.generate import generate

    settings = get_settings()
    bootstrap = _ensure_broker()
    click.echo(f"Kafka : {bootstrap}")
    data = asyncio.run(_prepare(directory_file))
    click.echo(f"Annuaire : {len(data.observatoires)} observatoires, {len(data.missions_locales)} missions locales, "
               f"{len(data.etablissements)} établissements")
    manifest = generate(settings.home / "demo" / f"seed-{seed}", seed=seed, people=people,
                        directory_path=directory_file)
    click.echo(f"Données générées : {people} jeunes, {len(manifest.files)} fichiers dans {manifest.out_dir}")
    for step in manifest.steps:
        result = asyncio.run(ingest_path(step.source, step.resolve(manifest.out_dir), step.as_of))
        click.echo(f"  {step.source:<15} {step.path:<40} {result.read:>6} lus, {result.published} publiés, "
                   f"{result.unchanged} inchangés, {result.filtered} filtrés, {result.rejected} rejetés")
    click.echo("Moteur : traitement jusqu'au repos…")
    worker = subprocess.run([sys.executable, "-m", "hub", "worker", "--until-idle"], stdin=subprocess.DEVNULL)
    if worker.returncode != 0:
        raise HubError(f"le moteur s'est arrêté en erreur (statut {worker.returncode})")
    per_observatory, total = asyncio.run(summarize([o.code for o in data.observatoires]))
    _print_summary(per_observatory, total)
    click.echo("")
    click.echo("Voir les dossiers : `hub cases --observatoire OBS-86` (ou --format jsonl).")
