"""`hub cases [--observatoire CODE] [--status S] [--format table|jsonl]`.

Reads the compacted case topics to their end (latest record per case id): `cases.v1`
for the operator's view of every observatory (it never holds TRANSFERE records), or
`observatoire.<CODE>.cases.v1` for one observatory (its own cases, and a TRANSFERE
record for each case it transferred). Output sorted by case id; jsonl is exactly the
shape of interfaces.md (hub.worker.records.to_json_line).
"""

from __future__ import annotations

import click

from hub.cli.common import Choice, run_async
from hub.errors import InputError
from hub.types.cases import HORS_TERRITOIRE, STATUSES, TRANSFERE


async def _known_observatory(code: str) -> bool:
    from hub.directory_feed import read_directory
    from hub.kafka import client
    from hub.kafka.topics import observatory_topic

    if code == HORS_TERRITOIRE:
        return True
    try:
        index = await read_directory()
    except Exception:  # noqa: BLE001 — an unreadable directory: fall back on the topic
        index = None
    if index is not None and code in index.observatoires:
        return True
    admin = client.admin()
    await client.started(admin)
    try:
        return observatory_topic(code) in set(await admin.list_topics())
    finally:
        await admin.close()


async def read_cases(topic: str) -> tuple[list[dict], int]:
    """Decoded latest records of a case topic, sorted by case id; and the count of
    records that did not decode."""
    from hub.avro import CodecError, get_codec
    from hub.kafka.compacted import read_table
    from hub.kafka.topics import learn_schemas

    codec = get_codec()
    # Cases written by a newer worker (a newer version of the case schema) are read
    # into this version's shape: their schema is on hub.schemas.v1 (Codec.learn).
    await learn_schemas(codec)
    cases, bad = [], 0
    for value in (await read_table(topic)).values():
        try:
            cases.append(codec.decode(value))
        except CodecError:
            bad += 1
    cases.sort(key=lambda c: c["case_id"])
    return cases, bad


def _table(cases: list[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    def d(value) -> str:
        return value.strftime("%d/%m/%Y") if value else ""

    console = Console(soft_wrap=False)
    if not console.is_terminal:
        # Piped: the table at its natural width (a table does not expand), never cut.
        console = Console(soft_wrap=False, width=4096)
    table = Table(title=title)
    for column in ("Dossier", "Type", "Statut", "Observatoire", "Affecté à", "Jeune", "INE",
                   "Ouvert le", "Alerte le", "Clos le"):
        table.add_column(column, no_wrap=True)
    for c in cases:
        person = c.get("person") or {}
        assigned = c.get("assigned_to") or {}
        name = f"{person.get('nom', '')} {person.get('prenom', '')}".strip() if person else "—"
        status = c["status"] + (f" ({c['outcome']})" if c.get("outcome") else "")
        table.add_row(
            c["case_id"], c["type"], status, c["observatoire"],
            f"{assigned.get('role', '')} {assigned.get('code', '')}".strip(), name, person.get("ine") or "",
            d(c.get("opened_on")), d(c.get("alerted_on")), d(c.get("closed_on")),
        )
    console.print(table)


@click.command()
@click.option("--observatoire", "observatoire", metavar="CODE", default=None,
              help="One observatory's cases (its own topic, TRANSFERE records included).")
@click.option("--status", type=Choice(STATUSES, case_sensitive=False), default=None,
              help="Only cases with this status.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True,
              help="A table in French, or one JSON object per line (interfaces.md).")
@run_async
async def cases(observatoire: str | None, status: str | None, fmt: str) -> None:
    """Current state of cases (all observatories when none is given: an operator's view)."""
    from hub.kafka.topics import CASES, observatory_topic
    from hub.worker.records import to_json_line

    if observatoire is not None:
        observatoire = observatoire.strip().upper()  # codes are upper case: OBS-86, HORS_TERRITOIRE
        if not observatoire or not await _known_observatory(observatoire):
            raise InputError(f"observatoire inconnu : {observatoire!r}")
        topic = observatory_topic(observatoire)
    else:
        topic = CASES
    records, bad = await read_cases(topic)
    if observatoire is None:
        records = [c for c in records if c["status"] != TRANSFERE]
    if status is not None:
        records = [c for c in records if c["status"] == status.upper()]
    if bad:
        click.echo(f"hub: attention : {bad} enregistrement(s) illisible(s) ignoré(s) sur {topic}", err=True)
    if fmt == "jsonl":
        for c in records:
            click.echo(to_json_line(c))
        return
    if not records:
        click.echo("aucun dossier")
        return
    title = f"Dossiers — {observatoire}" if observatoire else "Dossiers — tous les observatoires"
    _table(records, f"{title} ({len(records)})")
