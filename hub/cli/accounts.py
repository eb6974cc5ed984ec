"""`hub accounts add|list|disable|enable|token|password`: who may use `hub serve`.

Accounts live in `<HUB_HOME>/accounts.sqlite3` (see hub.accounts.store). Passwords are
read from a hidden prompt (or one line of standard input with --password-stdin), hashed
with Argon2id and never echoed; an API token is printed once, on standard output, when
it is made, and only its SHA-256 is kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import click

from hub.accounts import (
    CASE_ROLES,
    CTI_ETAT,
    CTI_REGION,
    INSTITUTION,
    MISSION_LOCALE,
    OBSERVATOIRE,
    OPERATEUR,
    ROLES,
    AccountStore,
    store_path,
)
from hub.accounts.store import INGEST_SOURCES, check_new, check_password
from hub.cli.common import Choice
from hub.errors import InputError
from hub.settings import get_settings
from hub.types.cases import HORS_TERRITOIRE



def _store() -> AccountStore:
    return AccountStore.for_home(get_settings().home)


def _read_directory():
    """The directory on Kafka, or None (with the reason) when it cannot be read."""
    from hub.directory_feed import read_directory

    async def go():
        return await asyncio.wait_for(read_directory(get_settings()), timeout=15)

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # an unreachable broker is reported below, once
    try:
        index = asyncio.run(go())
    except Exception as exc:  # noqa: BLE001 — no broker, no directory: the check is skipped
        return None, f"{type(exc).__name__}: {exc}".strip()[:160]
    finally:
        quiet.setLevel(level)
    if index is None:
        return None, "aucun annuaire chargé"
    return index, ""


def _check_code(role: str, code: str | None, source: str | None) -> None:
    """Refuse a structure code the directory does not know (skipped, with a warning,
    when the directory cannot be read)."""
    if not code:
        return
    if role == INSTITUTION and source not in ("cti", "mission-locale"):
        from hub.validation import FieldError, check_uai

        try:
            check_uai(code)
        except FieldError as exc:
            raise InputError(f"--code {code!r}: {exc.detail} (UAI attendu pour la source {source})") from None
        return
    index, why = _read_directory()
    if index is None:
        click.echo(f"hub: attention : code {code!r} non vérifié ({why})", err=True)
        return
    ok = True
    if role == OBSERVATOIRE:
        ok = code == HORS_TERRITOIRE or code in index.observatoires
    elif role == MISSION_LOCALE or (role == INSTITUTION and source == "mission-locale"):
        ok = index.has_mission_locale(code)
    elif role in (CTI_ETAT, CTI_REGION) or (role == INSTITUTION and source == "cti"):
        cti = index.cti(code)
        ok = cti is not None and (role == INSTITUTION or cti.type == ("ETAT" if role == CTI_ETAT else "REGION"))
    if not ok:
        raise InputError(f"code {code!r} inconnu de l'annuaire pour le rôle {role}" + (f" ({source})" if source else ""))


def _need_terminal() -> None:
    """A hidden prompt needs a terminal: without one it would echo the password."""
    if not sys.stdin.isatty():
        raise InputError("pas de terminal pour saisir le mot de passe : donnez-le sur l'entrée standard avec "
                         "--password-stdin")


@click.group()
def accounts() -> None:
    """Accounts of the web interface and the HTTP API (stored hashed under HUB_HOME)."""


@accounts.command()
@click.argument("name")
@click.option("--role", type=Choice(ROLES, case_sensitive=False), required=True,
              help="OBSERVATOIRE, MISSION_LOCALE, CTI_ETAT, CTI_REGION (with --code), OPERATEUR, "
                   "or INSTITUTION (an API token bound to --source).")
@click.option("--code", help="Structure code (OBS-86, ML-86-POI, CTI-E-86-01…); for an INSTITUTION token, "
                             "the one code its records may carry (required for a CTI).")
@click.option("--source", type=click.Choice(INGEST_SOURCES), help="INSTITUTION only: the source its token posts to.")
@click.option("--token", "with_token", is_flag=True, help="Also make an API token (printed once).")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of standard input (otherwise a hidden prompt, on a terminal only).")
@click.option("--no-password", is_flag=True, help="No password: an API-only account (needs --token).")
@click.option("--no-check", is_flag=True, help="Do not check the code against the directory on Kafka.")
def add(name: str, role: str, code: str | None, source: str | None, with_token: bool, password_stdin: bool,
        no_password: bool, no_check: bool) -> None:
    """Create the account NAME (its login)."""
    role = role.upper()
    code = code.strip() if code else None
    if role in CASE_ROLES and code:
        code = code.upper()
    if role == INSTITUTION and source == "cti" and code:
        code = code.upper()
    if role == INSTITUTION and password_stdin:
        raise InputError("un compte INSTITUTION n'a qu'un jeton, pas de mot de passe")
    if no_password and not with_token:
        raise InputError("--no-password demande --token")
    wants_password = role != INSTITUTION and not no_password
    with_token = check_new(name, role, code=code, source=source, password=wants_password, token=with_token)
    store = _store()
    if store.get(name) is not None:
        raise InputError(f"le compte {name!r} existe déjà")
    if not no_check:
        _check_code(role, code, source)
    password = None
    if wants_password and password_stdin:
        password = check_password(sys.stdin.readline().rstrip("\r\n"))
    elif wants_password:
        _need_terminal()
        password = check_password(click.prompt("Mot de passe", hide_input=True, err=True,
                                               confirmation_prompt="Confirmez le mot de passe"))
    token = store.add(name, role, code=code, source=source, password=password, token=with_token)
    what = f"{role}" + (f" {code}" if code else "") + (f" ({source})" if source else "")
    click.echo(f"compte {name} créé : {what}", err=True)
    if token:
        click.echo("jeton d'API (affiché une seule fois, conservez-le) :", err=True)
        click.echo(token)


@accounts.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per account.")
def list_(as_json: bool) -> None:
    """Every account: role, code, source, whether it has a password / token, status."""
    found = _store().list()
    if as_json:
        for a in found:
            click.echo(json.dumps(a.as_json(), ensure_ascii=False))
        return
    if not found:
        click.echo(f"aucun compte ({store_path(get_settings().home)})")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Comptes ({len(found)})")
    for column in ("Compte", "Rôle", "Code", "Source", "Mot de passe", "Jeton", "État", "Créé le"):
        table.add_column(column)
    for a in found:
        table.add_row(a.name, a.role, a.code or "", a.source or "", "oui" if a.has_password else "non",
                      "oui" if a.has_token else "non", "désactivé" if a.disabled else "actif", a.created_at[:10])
    console = Console(soft_wrap=False)
    if not console.is_terminal:  # piped: the table at its natural width, never cut
        console = Console(soft_wrap=False, width=4096)
    console.print(table)


@accounts.command()
@click.argument("name")
def disable(name: str) -> None:
    """Disable NAME: no more logins, its token and open sessions are refused."""
    _store().set_disabled(name, True)
    click.echo(f"compte {name} désactivé")


@accounts.command()
@click.argument("name")
def enable(name: str) -> None:
    """Enable NAME again."""
    _store().set_disabled(name, False)
    click.echo(f"compte {name} réactivé")


@accounts.command()
@click.argument("name")
def token(name: str) -> None:
    """Make a new API token for NAME (printed once; the previous one stops working)."""
    store = _store()
    account = store.get(name)
    if account is None:
        raise InputError(f"compte inconnu {name!r}")
    if account.role == OPERATEUR:
        raise InputError("un compte OPERATEUR n'utilise pas l'API")
    click.echo(store.rotate_token(name))


@accounts.command()
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of standard input (otherwise a hidden prompt, on a terminal only).")
def password(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME."""
    store = _store()
    if store.get(name) is None:  # before asking for a password that would go nowhere
        raise InputError(f"compte inconnu {name!r}")
    if password_stdin:
        new = sys.stdin.readline().rstrip("\r\n")
    else:
        _need_terminal()
        new = click.prompt("Nouveau mot de passe", hide_input=True, confirmation_prompt="Confirmez le mot de passe",
                           err=True)
    store.set_password(name, new)
    click.echo(f"mot de passe de {name} changé")
