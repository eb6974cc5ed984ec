"""`hub schemas check`: every .avsc parses and every version is FULL_TRANSITIVE compatible."""

from __future__ import annotations

from pathlib import Path

import click

from hub.avro.compat import check_dir
from hub.avro.loader import default_schema_dir


@click.group()
def schemas() -> None:
    """Avro schemas of the hub (schemas/*.avsc)."""


@schemas.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Schema directory (default: the repository's schemas/, or HUB_SCHEMAS_DIR).",
)
@click.pass_context
def check(ctx: click.Context, directory: Path | None) -> None:
    """Refuse any version not compatible both ways with every other version.

    Checks that each <name>.v<N>.avsc parses, that versions run 1..N, and that every
    pair of versions resolves under Avro schema resolution in both directions.
    Exit 0 when everything is compatible, 2 with one problem per line on stderr.
    """
    directory = directory or default_schema_dir()
    groups, problems = check_dir(directory)
    total = sum(len(v) for v in groups.values())
    click.echo(f"{directory}: {len(groups)} schemas, {total} versions")
    for name in sorted(groups):
        versions = groups[name]
        latest = versions[-1]
        click.echo(
            f"  {name:<22} v1..v{latest.version:<3} {latest.fullname:<34} latest fingerprint {latest.fingerprint_hex}"
        )
    if problems:
        click.echo(f"{len(problems)} problem(s):", err=True)
        for p in problems:
            click.echo(p, err=True)
        ctx.exit(2)
    click.echo("OK: every version readable by every other, both ways (FULL_TRANSITIVE)")
