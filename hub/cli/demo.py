"""`hub demo`: the main job end to end on the embedded default and the sample data.

Broker (started if needed) → topics and schemas → sample directory → a seeded,
deterministic Poitou-Charentes school year generated under $HUB_HOME/demo → every
connector → the worker until idle → a summary per observatory, counted from the
observatory topics exactly as `hub cases --observatoire CODE` reads them. Running it
again is harmless: every record is then `unchanged` and the cases stay the same.

The worker runs as a `hub worker --until-idle` subprocess whose log (JSON lines) goes to
`$HUB_HOME/demo/worker.log`, not to the terminal; on failure its tail is printed.

With --serve: demo accounts (hub.demo.accounts: one per observatory, one Mission locale,
one CTI, one operator; passwords generated at each run, printed once, demo only), then
the web server of `hub serve` on 127.0.0.1 until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import click

from hub.directory import load_directory
from hub.directory_feed import publish_directory
from hub.cli.serve import check_listen
from hub.errors import HubError
from hub.kafka.client import recorded_broker, remember_embedded
from hub.kafka.embedded import REPO_ROOT, EmbeddedKafka
from hub.kafka.topics import CASES, ensure_topics, observatory_topic
from hub.settings import get_settings
from hub.types.cases import HORS_TERRITOIRE, STATUSES, TRANSFERE

SAMPLE_DIRECTORY = REPO_ROOT / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"
WORKER_LOG = Path("demo") / "worker.log"  # under HUB_HOME
LOG_TAIL_LINES = 25


def _ensure_broker() -> tuple[str, str]:
    """HUB_KAFKA_BOOTSTRAP when set; otherwise the embedded broker the other commands use
    (the last one `hub kafka start` recorded, wherever its data), else the default one;
    started if needed, as `hub kafka start` alone does. (bootstrap, what was done, for
    the user)."""
    settings = get_settings()
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap, "HUB_KAFKA_BOOTSTRAP"
    broker, port = recorded_broker(settings) or (EmbeddedKafka(settings.data_dir, settings.jar_cache),
                                                 settings.kafka_port)
    info = broker.running()
    done = "déjà en marche"
    if info is None:
        info = broker.start(port)
        done = "démarré ; il tourne encore après la démo : `hub kafka stop` l'arrête"
    remember_embedded(settings.home, info.bootstrap, broker.data_dir)
    return info.bootstrap, done


async def _prepare(directory_file: Path):
    settings = get_settings()
    data = load_directory(directory_file)
    await ensure_topics(settings, [o.code for o in data.observatoires], align=True)
    await publish_directory(data, settings)
    return data


async def summarize(observatories: list[str]) -> tuple[dict[str, Counter], int, Counter]:
    """(type, status) counts per observatory topic, the number of cases on cases.v1, and
    the cases of cases.v1 per assignee code (to choose the demo's counsellor accounts)."""
    from hub.cli.cases import read_cases

    per_observatory: dict[str, Counter] = {}
    for code in [*observatories, HORS_TERRITOIRE]:
        records, _ = await read_cases(observatory_topic(code))
        per_observatory[code] = Counter((c["type"], c["status"]) for c in records)
    total, _ = await read_cases(CASES)
    assigned = Counter((c.get("assigned_to") or {}).get("code") for c in total)
    return per_observatory, len(total), assigned


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _errors(path: Path, keep: int = 5) -> list[str]:
    """The worker's own last error lines (JSON, level error): event and reason."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        if not line.startswith("{") or '"error"' not in line:
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("level") == "error":
            why = doc.get("reason") or doc.get("error") or ""
            found.append(f"{doc.get('event', '')}" + (f" : {why}" if why else ""))
    return found[-keep:]


def _processed(path: Path) -> int | None:
    """Events processed, from the worker's last `worker stopped` log line (JSON)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in reversed(text.splitlines()):
        if '"worker stopped"' not in line:
            continue
        try:
            return int(json.loads(line)["processed"])
        except (ValueError, KeyError, TypeError):
            return None
    return None


def run_worker_logged(log: Path, argv: list[str] | None = None) -> float:
    """`hub worker --until-idle` with its output in `log` (overwritten at each run);
    the seconds it took. On failure, the log's tail on stderr and a HubError."""
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = argv or [sys.executable, "-m", "hub", "worker", "--until-idle"]
    # JSON lines in the file whatever HUB_LOG_FORMAT says (no colour codes in a file).
    env = {**os.environ, "HUB_LOG_FORMAT": "json"}
    started = time.monotonic()
    with open(log, "wb") as out:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        errors = _errors(log)
        if errors:
            click.echo("Moteur : erreurs signalées :", err=True)
            click.echo("\n".join(f"  {e}" for e in errors), err=True)
        click.echo(f"Moteur : échec — dernières lignes de {log} :", err=True)
        click.echo(_tail(log) or "  (journal vide)", err=True)
        raise HubError(f"le moteur s'est arrêté en erreur (statut {done.returncode}) ; journal complet : {log}")
    return time.monotonic() - started


def _print_summary(per_observatory: dict[str, Counter], total: int) -> None:
    click.echo("")
    click.echo(f"Dossiers par observatoire ({total} dossiers sur cases.v1) :")
    for code, counts in per_observatory.items():
        if not counts:
            click.echo(f"  {code} : aucun dossier")
            continue
        own = sum(n for (_, s), n in counts.items() if s != TRANSFERE)
        gone = sum(n for (_, s), n in counts.items() if s == TRANSFERE)
        # The lines below count the TRANSFERE records too, as `hub cases --observatoire` lists them.
        click.echo(f"  {code} : {own} dossiers" + (f" + {gone} transférés à un autre observatoire" if gone else ""))
        for case_type in sorted({t for t, _ in counts}):
            parts = [f"{s} {counts[(case_type, s)]}" for s in STATUSES if counts[(case_type, s)]]
            click.echo(f"    {case_type:<22} {', '.join(parts)}")




def _print_accounts(made, store_file: Path) -> None:
    click.echo("")
    click.echo(f"Comptes de démonstration ({store_file}) :")
    click.echo("  Mots de passe générés à chaque lancement de la démo, pour la démonstration seulement :")
    click.echo("  ne les réutilisez pas, et ne gardez pas ces comptes sur une installation réelle.")
    width = max(len(a.name) for a in made)
    for a in made:
        if a.password is None:
            click.echo(f"  {a.name:<{width}}  (compte existant, non créé par la démo : inchangé, "
                       f"mot de passe non affiché)")
            continue
        state = " — compte désactivé (hub accounts enable)" if a.disabled else ""
        click.echo(f"  {a.name:<{width}}  mot de passe : {a.password}  {a.role:<14}  voit {a.label}{state}")


def _serve(settings, port: int) -> None:
    """The web server of `hub serve` on loopback until Ctrl-C (or SIGTERM): exit 0."""
    from hub.cli.serve import run_server

    def stop(signum, frame):  # noqa: ARG001 — uvicorn re-raises the signal it shut down on
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        run_server(settings, host="127.0.0.1", port=port, secure_cookies=False, quiet=True)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("Interface web arrêtée.")


@click.command()
@click.option("--people", type=click.IntRange(200, 200_000), default=3000, show_default=True,
              help="Young people in the generated sample.")
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the deterministic generator.")
@click.option("--directory", "directory_file", type=click.Path(dir_okay=False, path_type=Path),
              default=SAMPLE_DIRECTORY, show_default=True, help="Directory YAML to load.")
@click.option("--serve", "with_serve", is_flag=True,
              help="Then create demo accounts (passwords generated and printed) and serve the web "
                   "interface on 127.0.0.1 until Ctrl-C.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="TCP port of the web interface (with --serve).")
def demo(people: int, seed: int, directory_file: Path, with_serve: bool, port: int) -> None:
    """Run the main job end to end on the bundled sample data.

    Starts the embedded Kafka broker if needed (or uses HUB_KAFKA_BOOTSTRAP), applies
    the topics and schemas, loads the sample directory, generates a deterministic
    school year under $HUB_HOME/demo, ingests it with every connector, runs the worker
    until idle (its log: $HUB_HOME/demo/worker.log) and prints the cases per
    observatory, by type and status. Running it again leaves the cases as they are.

    With --serve, it then creates demo accounts (one per observatory, one Mission
    locale, one CTI, one operator; new passwords printed at each run, for the demo only)
    and serves the web interface, as `hub serve` does, on http://127.0.0.1:PORT/ until
    Ctrl-C.
    """
    from hub.cli.ingest import ingest_path
    from hub.demo.generate import generate

    settings = get_settings()
    if with_serve:
        check_listen("127.0.0.1", port)
    bootstrap, done = _ensure_broker()
    click.echo(f"Kafka : {bootstrap} ({done})")
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
    log = settings.home / WORKER_LOG
    click.echo(f"Moteur : traitement jusqu'au repos (journal : {log})…")
    seconds = run_worker_logged(log)
    processed = _processed(log)
    # Faust's count: source events and the engine's internal messages (identity linking).
    events = f"{processed} messages traités" if processed is not None else "terminé"
    click.echo(f"Moteur : {events} en {seconds:.0f} s.")
    per_observatory, total, assigned = asyncio.run(summarize([o.code for o in data.observatoires]))
    _print_summary(per_observatory, total)
    click.echo("")
    click.echo("Voir les dossiers : `hub cases --observatoire OBS-86` (ou --format jsonl).")
    if not with_serve:
        click.echo("Voir sur le web : `hub demo --serve` (comptes de démonstration et interface web), "
                   "ou `hub serve` avec des comptes créés par `hub accounts add`.")
        return
    from hub.accounts import store_path
    from hub.demo.accounts import ensure_accounts, plan_accounts

    made = ensure_accounts(settings.home, plan_accounts(data, assigned))
    _print_accounts(made, store_path(settings.home))
    click.echo("")
    click.echo(f"Interface web : http://127.0.0.1:{port}/ — connectez-vous avec un des comptes ci-dessus ; "
               "Ctrl-C pour arrêter.")
    _serve(settings, port)
