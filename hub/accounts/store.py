"""Accounts of the web interface and the HTTP API, in a small SQLite file.

Where: `<HUB_HOME>/accounts.sqlite3` (mode 0600), so every `hub serve` and every
`hub accounts` command of the same HUB_HOME sees the same accounts. Several web
processes on one machine share it (SQLite locking); on several machines, give them the
same HUB_HOME or copy the file.

What: one row per account — its name (the login), its role, the structure code it acts
for, the source an institution token is bound to, the Argon2id hash of its password and
the SHA-256 of its API token (hub.accounts.secrets), whether it is disabled. Neither a
password nor a token is ever stored or printed in clear; a token is shown once, when it
is made.

Roles:

| role | who | sees / may do |
|---|---|---|
| OBSERVATOIRE + code | an observatory's staff | its observatory's cases (`observatoire.<code>.cases.v1`), records actions |
| MISSION_LOCALE / CTI_ETAT / CTI_REGION + code | a counsellor structure | the cases assigned to that structure, records actions |
| OPERATEUR | operators | the operator page, every case (read only) |
| INSTITUTION + source (+ code) | an institution's IT system | `POST /api/v1/ingest/<source>` only, with its token; for a CTI the token is bound to one CTI code |
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.accounts.secrets import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    hash_token,
    needs_rehash,
    new_token,
    verify_password,
)
from hub.errors import InputError

OBSERVATOIRE = "OBSERVATOIRE"
MISSION_LOCALE = "MISSION_LOCALE"
CTI_ETAT = "CTI_ETAT"
CTI_REGION = "CTI_REGION"
OPERATEUR = "OPERATEUR"
INSTITUTION = "INSTITUTION"

COUNSELLOR_ROLES = (MISSION_LOCALE, CTI_ETAT, CTI_REGION)
# Roles that follow cases and record actions (web pages, and the actions API).
CASE_ROLES = (OBSERVATOIRE, *COUNSELLOR_ROLES)
ROLES = (*CASE_ROLES, OPERATEUR, INSTITUTION)

# The sources an institution token may post to (`POST /api/v1/ingest/<source>`).
INGEST_SOURCES = ("rectorat", "absenteisme", "mission-locale", "cfa", "cti")

STORE_FILE = "accounts.sqlite3"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    code          TEXT,
    source        TEXT,
    password_hash TEXT,
    token_hash    TEXT UNIQUE,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    changed_at    TEXT NOT NULL
);
"""
# Web sessions ended by a logout before their cookie expires (a signed cookie cannot be
# taken back: a copy of it stays valid until the server refuses its id).
_SESSIONS = """
CREATE TABLE IF NOT EXISTS ended_sessions (
    sid   TEXT PRIMARY KEY,
    until REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: str
    code: str | None
    source: str | None
    has_password: bool
    has_token: bool
    disabled: bool
    created_at: str
    changed_at: str = ""  # last change of its credentials or state (ends older web sessions)

    @property
    def follows_cases(self) -> bool:
        return self.role in CASE_ROLES

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATEUR

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "code": self.code,
            "source": self.source,
            "password": self.has_password,
            "token": self.has_token,
            "disabled": self.disabled,
            "created_at": self.created_at,
        }


def store_path(home: Path) -> Path:
    return home / STORE_FILE


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _stamp() -> str:
    """`changed_at`: to the microsecond, since web sessions opened before a change end
    with it (hub/web/auth.py), even one opened the same second."""
    return datetime.now(UTC).isoformat()


def _row_account(row: sqlite3.Row) -> Account:
    return Account(
        name=row["name"],
        role=row["role"],
        code=row["code"],
        source=row["source"],
        has_password=row["password_hash"] is not None,
        has_token=row["token_hash"] is not None,
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
        changed_at=row["changed_at"],
    )


def check_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise InputError(f"nom de compte invalide {name!r}: 2 à 64 caractères parmi lettres, chiffres, . _ @ -")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"mot de passe trop court: {MIN_PASSWORD_LENGTH} caractères au moins")
    return password


def check_new(name: str, role: str, *, code: str | None, source: str | None, password: bool, token: bool) -> bool:
    """Refuse an account that cannot exist (InputError); returns whether it gets a token
    (always for INSTITUTION)."""
    check_name(name)
    if role not in ROLES:
        raise InputError(f"rôle inconnu {role!r}: {', '.join(ROLES)}")
    if role in CASE_ROLES and not code:
        raise InputError(f"le rôle {role} demande --code (le code de la structure)")
    if role == INSTITUTION:
        if not source:
            raise InputError("un compte INSTITUTION demande --source (la source de son jeton)")
        if source not in INGEST_SOURCES:
            raise InputError(f"source inconnue {source!r}: {', '.join(INGEST_SOURCES)}")
        if source == "cti" and not code:
            raise InputError("un jeton de CTI est lié à un code de CTI: --code CTI-…")
        if password:
            raise InputError("un compte INSTITUTION n'a qu'un jeton, pas de mot de passe")
        token = True
    elif source:
        raise InputError("--source ne concerne que les comptes INSTITUTION")
    if role == OPERATEUR and code:
        raise InputError("un compte OPERATEUR n'a pas de code de structure")
    if code is not None and not _CODE_RE.match(code):
        raise InputError(f"code de structure invalide {code!r}")
    if not password and not token:
        raise InputError("un compte a besoin d'un mot de passe ou d'un jeton (--token)")
    return token


class AccountStore:
    """The accounts file. Every call opens its own short SQLite connection, so one
    store is safe to use from several threads (the web server hashes in a thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_home(cls, home: Path) -> AccountStore:
        return cls(store_path(home))

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 before SQLite opens it: hashes are still nobody else's business.
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            db.execute(_SCHEMA)
            db.execute(_SESSIONS)
            with db:
                yield db
        finally:
            db.close()

    # -- reading ------------------------------------------------------------------------

    def get(self, name: str) -> Account | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM accounts WHERE name = ?", (name,)).fetchone()
        return _row_account(row) if row else None

    def list(self) -> list[Account]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM accounts ORDER BY name").fetchall()
        return [_row_account(r) for r in rows]

    def authenticate(self, name: str, password: str) -> Account | None:
        """The enabled account whose password this is, else None (same cost either way)."""
        with self._db() as db:
            row = db.execute("SELECT * FROM accounts WHERE name = ?", (name,)).fetchone()
        stored = row["password_hash"] if row else None
        if not verify_password(stored, password) or row is None or row["disabled"]:
            return None
        if needs_rehash(stored):
            with self._db() as db:
                db.execute("UPDATE accounts SET password_hash = ? WHERE name = ?", (hash_password(password), name))
        return _row_account(row)

    def by_token(self, token: str) -> Account | None:
        """The enabled account of an API token, else None."""
        if not token:
            return None
        with self._db() as db:
            row = db.execute("SELECT * FROM accounts WHERE token_hash = ?", (hash_token(token),)).fetchone()
        if row is None or row["disabled"]:
            return None
        return _row_account(row)

    def session_ended(self, sid: str) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM ended_sessions WHERE sid = ?", (sid,)).fetchone() is not None

    # -- writing ------------------------------------------------------------------------

    def end_session(self, sid: str, until: float) -> None:
        """Refuse the web session `sid` from now on (kept until its cookie expires)."""
        with self._db() as db:
            db.execute("DELETE FROM ended_sessions WHERE until < ?", (time.time(),))
            db.execute("INSERT OR REPLACE INTO ended_sessions (sid, until) VALUES (?, ?)", (sid, until))

    def add(
        self,
        name: str,
        role: str,
        *,
        code: str | None = None,
        source: str | None = None,
        password: str | None = None,
        token: bool = False,
    ) -> str | None:
        """Create an account; returns its new API token (to show once) when `token`."""
        token = check_new(name, role, code=code, source=source, password=password is not None, token=token)
        if password is not None:
            check_password(password)
        password_hash = hash_password(check_password(password)) if password is not None else None
        clear = new_token() if token else None
        now = _now()
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO accounts (name, role, code, source, password_hash, token_hash, disabled, created_at, changed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                    (name, role, code, source, password_hash, hash_token(clear) if clear else None, now, now),
                )
        except sqlite3.IntegrityError:
            raise InputError(f"le compte {name!r} existe déjà") from None
        return clear

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        with self._db() as db:
            done = db.execute(
                "UPDATE accounts SET disabled = ?, changed_at = ? WHERE name = ?", (int(disabled), _stamp(), name)
            ).rowcount
        if not done:
            raise InputError(f"compte inconnu {name!r}")

    def rotate_token(self, name: str) -> str:
        """A new API token for `name` (the old one stops working); returned once."""
        clear = new_token()
        with self._db() as db:
            done = db.execute(
                "UPDATE accounts SET token_hash = ?, changed_at = ? WHERE name = ?", (hash_token(clear), _stamp(), name)
            ).rowcount
        if not done:
            raise InputError(f"compte inconnu {name!r}")
        return clear

    def set_password(self, name: str, password: str) -> None:
        account = self.get(name)
        if account is None:
            raise InputError(f"compte inconnu {name!r}")
        if account.role == INSTITUTION:
            raise InputError("un compte INSTITUTION n'a qu'un jeton, pas de mot de passe")
        with self._db() as db:
            db.execute(
                "UPDATE accounts SET password_hash = ?, changed_at = ? WHERE name = ?",
                (hash_password(check_password(password)), _stamp(), name),
            )
