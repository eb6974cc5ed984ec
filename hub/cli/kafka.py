"""`hub kafka start|stop|status`: the embedded default broker."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from hub.errors import InputError
from hub.kafka.client import recorded_broker, remember_embedded
from hub.kafka.embedded import EmbeddedKafka, kafka_version
from hub.settings import get_settings


def _data_dir(_ctx, _param, value: str | None) -> Path | None:
    """--data-dir: an empty value (an unset shell variable) would be the current folder."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("chemin vide", param_hint="--data-dir")
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"{path} est un fichier, pas un dossier", param_hint="--data-dir")
    return path


DATA_DIR = dict(type=str, default=None, callback=_data_dir)


def _port_notice(used: int) -> None:
    """HUB_KAFKA_PORT names the port of a HUB_HOME's first broker; a broker already
    recorded keeps its own (its clients know it), which the variable must not hide."""
    wanted = os.environ.get("HUB_KAFKA_PORT")
    if wanted and wanted.strip() != str(used):
        click.echo(f"HUB_KAFKA_PORT={wanted.strip()} ignoré : le Kafka de ce HUB_HOME garde son port {used} "
                   "(hub kafka stop puis hub kafka start --port N pour en changer)", err=True)


def _broker(data_dir: Path | None) -> EmbeddedKafka:
    settings = get_settings()
    if data_dir is None:
        recorded = recorded_broker(settings)
        if recorded is not None:
            return recorded[0]
        data_dir = settings.data_dir
    return EmbeddedKafka(data_dir, settings.jar_cache)


@click.group()
def kafka() -> None:
    """The embedded default: a real single-node Apache Kafka (KRaft) on loopback."""


@kafka.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Listener port (default HUB_KAFKA_PORT or 9092).")
@click.option("--data-dir", **DATA_DIR,
              help="Where the broker keeps its data across restarts (default $HUB_HOME/kafka-data, HUB_HOME being ~/.hub unless set).")
def start(port: int | None, data_dir: Path | None) -> None:
    """Start the broker (resolving its jars with Maven the first time); returns once it answers.

    Without options, the broker this HUB_HOME last started (its data, its port), else
    the default one."""
    settings = get_settings()
    # One embedded broker per HUB_HOME: every other command finds it through
    # `<HUB_HOME>/kafka.json`. Another one started beside it would take that record and
    # silently re-point them all.
    recorded = recorded_broker(settings)
    if recorded is not None:
        current, recorded_port = recorded
        info = current.running()
        if info is not None:
            same_dir = data_dir is None or data_dir.resolve() == current.data_dir.resolve()
            if same_dir and (port is None or port == info.port):
                if port is None:
                    _port_notice(info.port)
                click.echo(f"Kafka {info.version} déjà en marche sur {info.bootstrap} (données : {info.data_dir}, "
                           f"pid {info.pid})")
                return
            raise InputError(f"un Kafka de ce HUB_HOME tourne déjà sur {info.bootstrap} (données : {info.data_dir}) : "
                             "arrêtez-le d'abord (hub kafka stop) ou utilisez un autre HUB_HOME")
        if data_dir is None and port is None:
            # Stopped: `start` alone restarts it, with its data and its port.
            data_dir, port = current.data_dir, recorded_port
            _port_notice(port)
    data_dir = data_dir or settings.data_dir
    broker = EmbeddedKafka(data_dir, settings.jar_cache)
    info = broker.start(port or settings.kafka_port)
    remember_embedded(settings.home, info.bootstrap, broker.data_dir)
    click.echo(f"Kafka {info.version} en marche sur {info.bootstrap} (données : {info.data_dir}, pid {info.pid})")


@kafka.command()
@click.option("--data-dir", **DATA_DIR,
              help="The broker's data folder (default: the broker this HUB_HOME last started).")
def stop(data_dir: Path | None) -> None:
    """Stop the broker cleanly (controlled shutdown; killed after 60 s without one)."""
    outcome = _broker(data_dir).stop()
    if outcome == "stopped":
        click.echo("Kafka arrêté")
    elif outcome == "killed":
        click.echo("Kafka arrêté de force (SIGKILL) : pas d'arrêt propre en 60 s ; il relira ses journaux au démarrage")
    else:
        click.echo("Kafka ne tournait pas")


@kafka.command()
@click.option("--data-dir", **DATA_DIR,
              help="The broker's data folder (default: the broker this HUB_HOME last started).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def status(data_dir: Path | None, as_json: bool) -> None:
    """Whether the embedded broker runs, where, and which Kafka version (exit 1 if stopped)."""
    broker = _broker(data_dir)
    info = broker.running()
    paused = broker.paused()
    if paused is not None:
        info = None  # its port accepts connections, nothing answers them
    elsewhere = get_settings().kafka_bootstrap
    result = {
        "running": info is not None,
        "bootstrap": info.bootstrap if info else None,
        "pid": info.pid if info else None,
        "data_dir": str(broker.data_dir),
        "kafka_version": info.version if info else kafka_version(),
        "paused": paused is not None,
        "commands_use": elsewhere or None,
    }
    if as_json:
        click.echo(json.dumps(result))
    elif info:
        click.echo(f"Apache Kafka {info.version} en marche sur {info.bootstrap} (pid {info.pid}, données : {info.data_dir})")
    elif paused:
        click.echo(f"Kafka en pause (processus {paused.pid} suspendu par un signal) : il ne répond pas sur "
                   f"{paused.bootstrap} ; `kill -CONT {paused.pid}` le reprend, `hub kafka stop` l'arrête")
    else:
        click.echo(f"Kafka arrêté (données : {broker.data_dir})")
    if elsewhere and not as_json:
        click.echo(f"HUB_KAFKA_BOOTSTRAP est réglé : les autres commandes utilisent {elsewhere}, pas ce Kafka embarqué")
    if not info:
        raise click.exceptions.Exit(1)
