"""Entry point of the `hub` command: errors are one line on stderr and an exit status."""

from __future__ import annotations

import importlib
import logging
import sys

import click
from aiokafka.errors import KafkaConnectionError, KafkaError
from pydantic import ValidationError

from hub import __version__
from hub.errors import HubError
from hub.logging import configure
from hub.runtime import collect_less
from hub.settings import get_settings

# Each command's module is imported when the command runs (or when `hub --help` lists
# it): a command does not pay for the imports of the others (the connectors, Faust,
# Starlette…), which were most of the start-up time of every `hub` call.
COMMANDS = {
    "kafka": "hub.cli.kafka",
    "topics": "hub.cli.topics",
    "schemas": "hub.cli.schemas",
    "directory": "hub.cli.directory",
    "ingest": "hub.cli.ingest",
    "dlq": "hub.cli.dlq",
    "worker": "hub.cli.worker",
    "cases": "hub.cli.cases",
    "status": "hub.cli.status",
    "demo": "hub.cli.demo",
    "serve": "hub.cli.serve",
    "accounts": "hub.cli.accounts",
}


class LazyGroup(click.Group):
    """The `hub` group: each of COMMANDS is the attribute of its name in its module,
    imported on first use."""

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            self.add_command(getattr(importlib.import_module(COMMANDS[name]), name))
        return self.commands.get(name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hub")
def cli() -> None:
    """Integration hub against school dropout: connectors, case engine, routing.

    Configuration comes from HUB_* environment variables; with HUB_KAFKA_BOOTSTRAP
    unset, commands use the embedded broker started by `hub kafka start`.
    """
    collect_less()
    try:
        settings = get_settings()
    except ValidationError:
        # Refused settings are the command's error, when it reads them (one line, exit 2):
        # `--help` must not depend on them.
        configure()
        return
    configure(settings.log_level, settings.log_format)
    if settings.log_level != "DEBUG":
        # aiokafka logs an unreachable broker or a missing topic as ERROR lines, each
        # retry again; the command says it once, in its own one-line error (the worker's
        # and the server's own logs say what they retry). HUB_LOG_LEVEL=DEBUG shows them.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def one_line(message: object) -> str:
    """A message on one line: its line breaks (and the spaces around them) become one space."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def settings_problems(exc: ValidationError) -> str:
    """Each refused setting by its variable (`HUB_RULES__GRACE_DAYS`), and why."""
    return "; ".join(
        f"HUB_{'__'.join(str(part) for part in error['loc']).upper()} : {one_line(error['msg'])}"
        + (f" ({error['input']!r})" if isinstance(error.get("input"), (str, int, float)) else "")
        for error in exc.errors()
    )


def command_path(argv: list[str]) -> str:
    """`hub kafka start` for the arguments `kafka start --port`: the command a usage error
    belongs to when click raises it without a context (an option missing its value)."""
    path, command = ["hub"], cli
    for arg in argv:
        if arg.startswith("-"):
            continue
        sub = command.get_command(None, arg) if isinstance(command, click.Group) else None
        if sub is None:
            break
        path.append(arg)
        command = sub
    return " ".join(path)


def main(argv: list[str] | None = None) -> None:
    try:
        rv = cli.main(args=argv, prog_name="hub", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("hub: interrompu", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # a group called alone prints its help, as click does
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        # click's message, without its Usage/Try block: one line, exit 2.
        where = exc.ctx.command_path if exc.ctx else command_path(sys.argv[1:] if argv is None else argv)
        click.echo(f"{where}: error: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"hub: error: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except KafkaConnectionError as exc:
        click.echo(f"hub: error: Kafka injoignable ({one_line(exc)}); lancez `hub kafka start` ou réglez HUB_KAFKA_BOOTSTRAP", err=True)
        sys.exit(1)
    except KafkaError as exc:
        click.echo(f"hub: error: Kafka: {one_line(exc)}", err=True)
        sys.exit(1)
    except HubError as exc:
        click.echo(f"hub: error: {one_line(exc)}", err=True)
        sys.exit(exc.exit_code)
    except ValidationError as exc:  # a HUB_* variable the settings refuse: bad input
        click.echo(f"hub: error: configuration invalide : {settings_problems(exc)}", err=True)
        sys.exit(2)
    except OSError as exc:  # a HUB_HOME or data folder that cannot be written, a full disk
        where = f" : {exc.filename}" if exc.filename else ""
        click.echo(f"hub: error: {one_line(exc.strerror or exc)}{where}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    # Without standalone mode click returns a command's Exit code instead of raising it.
    sys.exit(rv if isinstance(rv, int) else 0)
