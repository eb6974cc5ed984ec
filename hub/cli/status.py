"""`hub status [--json]`: the operator page in the terminal.

Topics with their end offsets, the engine's consumer-group lag (group = HUB_WORKER_ID),
dead letters per source and reason, the watermark of each source and the hub's clock
(the minimum of the rectorat, mission-locale and cfa watermarks).
"""

from __future__ import annotations

import json

import click

from hub.cli.common import run_async
from hub.settings import get_settings


def _render(report) -> None:
    from rich.console import Console
    from rich.table import Table

    from hub.types.events import CLOCK_SOURCES
    from hub.web.labels import SOURCES, fr_date
    from hub.web.ops import today

    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console = Console(soft_wrap=False, width=160)
    clock = report.clock
    age = report.clock_age_days()
    marks = Table(title="Dates d'arrêté des sources et horloge")
    for column in ("Source", "Système", "À jour au", "Compte pour l'horloge"):
        marks.add_column(column)
    for source in ("rectorat", "absenteisme", "mission-locale", "cfa", "cti"):
        mark = report.watermarks.get(source)
        marks.add_row(source, SOURCES.get(source, source), fr_date(mark) if mark else "—",
                      "oui" if source in CLOCK_SOURCES else "non")
    console.print(marks)
    if clock is None:
        missing = [s for s in CLOCK_SOURCES if s not in report.watermarks]
        console.print(f"Horloge : aucune (attend {', '.join(missing)})")
    else:
        console.print(f"Horloge : {fr_date(clock)} ({age} jour(s) de retard sur le {fr_date(today())})")

    lag = Table(title=f"Retard du moteur (groupe {report.group})")
    lag.add_column("Topic")
    lag.add_column("Retard", justify="right")
    for topic, n in report.lag.items():
        lag.add_row(topic, str(n))
    lag.add_row("total", str(report.total_lag), style="bold")
    console.print(lag)
    if not report.group_known:
        console.print(f"(le groupe {report.group} n'a encore rien validé : moteur jamais lancé ?)")

    dlq = Table(title="Rejets (DLQ) par source et motif")
    for column in ("Source", "Motif", "Nombre"):
        dlq.add_column(column, justify="right" if column == "Nombre" else "left")
    for (source, reason), n in sorted(report.dead_letters.items()):
        dlq.add_row(source, reason, str(n))
    if not report.dead_letters:
        dlq.add_row("—", "aucun rejet", "0")
    console.print(dlq)

    topics = Table(title=f"Topics ({len(report.topics)})")
    for column in ("Topic", "Nature", "Partitions", "Messages", "Offset de fin"):
        topics.add_column(column, justify="right" if column in ("Partitions", "Messages", "Offset de fin") else "left")
    for t in report.topics:
        topics.add_row(t.name, t.kind, str(t.partitions), str(t.messages), str(t.end))
    console.print(topics)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
@run_async
async def status(as_json: bool) -> None:
    """Operators: topics, end offsets, engine lag, dead letters, watermarks and the clock."""
    from hub.web.ops import collect_once

    report = await collect_once(get_settings())
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        _render(report)
