"""`hub worker [--until-idle]`: the case engine (correlation and routing)."""

from __future__ import annotations

import click

from hub.settings import get_settings


@click.command()
@click.option(
    "--until-idle",
    is_flag=True,
    help="Exit 0 once every input event is processed and every deadline the clock has passed is applied.",
)
def worker(until_idle: bool) -> None:
    """Run the case engine: events → cases on cases.v1 and the observatories' topics.

    Reads the five source topics, counsellors' actions, watermarks (the clock) and the
    directory; HUB_WORKER_ID names the engine (its consumer group and local state under
    HUB_HOME/worker). Without --until-idle it runs until stopped (Ctrl-C, SIGTERM).
    """
    from hub.worker.run import run_worker

    code = run_worker(get_settings(), until_idle=until_idle)
    if code:
        raise click.exceptions.Exit(code)
