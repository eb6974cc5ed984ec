"""`hub schemas check`: every .avsc parses, every version is FULL_TRANSITIVE compatible,
and no published version changed (`schemas/published.json`)."""

from __future__ import annotations

from pathlib import Path

import click

from hub.avro import frozen
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
@click.option("--freeze", is_flag=True,
              help="Record the versions not yet in published.json (once they are published): "
                   "from then on the check refuses any change to them.")
@click.pass_context
def check(ctx: click.Context, directory: Path | None, freeze: bool) -> None:
    """Refuse any version not compatible both ways with every other version, and any
    change to a published one.

    Checks that each <name>.v<N>.avsc parses, that versions run 1..N, that every pair
    of versions resolves under Avro schema resolution in both directions, and that the
    versions recorded in published.json are still there, unchanged (a published version
    never changes: add the next one). Exit 0 when all is well, 2 with one problem per
    line on stderr.
    """
    directory = directory or default_schema_dir()
    groups, problems = check_dir(directory)
    frozen_problems, new = frozen.check(directory, groups)
    problems += frozen_problems
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
    if new and freeze:
        frozen.freeze(directory, new)
        click.echo(f"recorded in {frozen.FILE}: {', '.join(v.label for v in new)}")
    elif new:
        click.echo(f"not yet in {frozen.FILE} (new versions; `--freeze` records them once published): "
                   + ", ".join(v.label for v in new))
    click.echo("OK: every version readable by every other, both ways (FULL_TRANSITIVE)")
