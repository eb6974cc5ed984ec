"""Demo accounts of `hub demo --serve`: who can log in to the web pages after the demo.

    planned = plan_accounts(directory_data, assigned_counts)
    made = ensure_accounts(settings.home, planned)   # [DemoAccount], passwords in clear

One OBSERVATOIRE account per observatory of the directory (`obs-86` for OBS-86), one
Mission locale account and one CTI account (the structures with the most cases assigned
on cases.v1, so that their list is not empty; ties by code), and one OPERATEUR account
(`operateur`).

**Passwords: generated, demo only.** A fresh random password is generated for every
demo account at each run and printed once by `hub demo --serve`; the accounts store
keeps only its Argon2id hash, as for any account. The demo never writes a password in
clear anywhere, and no password is written in the code (a fixed one would work on every
machine that ever ran the demo). Running the demo again is idempotent: no duplicate and
no error; the accounts the demo made before (their names are listed, without passwords,
in `$HUB_HOME/demo/comptes-demo.json`) get a new password, printed again. An account of
the same name that the demo did not make (e.g. a real `operateur`) is left untouched and
its password is not shown.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hub.accounts import CTI_ETAT, CTI_REGION, MISSION_LOCALE, OBSERVATOIRE, OPERATEUR, AccountStore
from hub.directory.model import DirectoryData

MARKER = Path("demo") / "comptes-demo.json"
OPERATOR_NAME = "operateur"
# No 0/o, 1/l/i: read aloud or copied from a terminal without doubt.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True, slots=True)
class PlannedAccount:
    name: str
    role: str
    code: str | None
    label: str  # what the account sees, in French


@dataclass(frozen=True, slots=True)
class DemoAccount:
    name: str
    role: str
    code: str | None
    label: str
    password: str | None  # None: an account the demo did not make, left as it was
    created: bool  # made by this run (else: a password reset of an earlier demo account)
    disabled: bool = False


def new_password() -> str:
    """14 characters, ~59 bits: `k7qm-3xtr-9pwa` (demo only, printed once)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


def _most_assigned(codes: list[str], assigned: Counter) -> str:
    return min(codes, key=lambda c: (-assigned.get(c, 0), c))


def plan_accounts(data: DirectoryData, assigned: Counter) -> list[PlannedAccount]:
    """The demo's accounts for this directory; `assigned` counts the cases on cases.v1 by
    `assigned_to.code`."""
    planned = [
        PlannedAccount(o.code.lower(), OBSERVATOIRE, o.code, f"les dossiers de {o.code} ({o.nom})")
        for o in data.observatoires
    ]

    def cases(code: str) -> str:
        n = assigned.get(code, 0)
        return f"{n} dossier{'s' if n > 1 else ''} affecté{'s' if n > 1 else ''}"

    if data.missions_locales:
        ml = next(m for m in data.missions_locales
                  if m.code == _most_assigned([m.code for m in data.missions_locales], assigned))
        planned.append(PlannedAccount(ml.code.lower(), MISSION_LOCALE, ml.code,
                                      f"{ml.nom} ({ml.code}), {cases(ml.code)}"))
    if data.ctis:
        cti = next(c for c in data.ctis if c.code == _most_assigned([c.code for c in data.ctis], assigned))
        role = CTI_ETAT if cti.type == "ETAT" else CTI_REGION
        planned.append(PlannedAccount(cti.code.lower(), role, cti.code, f"{cti.nom} ({cti.code}), {cases(cti.code)}"))
    planned.append(PlannedAccount(OPERATOR_NAME, OPERATEUR, None,
                                  "la page Exploitation et tous les dossiers (lecture seule)"))
    return planned


def _read_marker(path: Path) -> set[str]:
    try:
        return set(json.loads(path.read_text(encoding="utf-8")).get("comptes", []))
    except (OSError, ValueError, AttributeError):
        return set()


def _write_marker(path: Path, names: set[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"comptes": sorted(names)}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def ensure_accounts(home: Path, planned: list[PlannedAccount]) -> list[DemoAccount]:
    """Create the planned accounts (or give the demo's earlier ones a new password);
    their passwords in clear, to print once."""
    store = AccountStore.for_home(home)
    marker = home / MARKER
    ours = _read_marker(marker)
    made: list[DemoAccount] = []
    for p in planned:
        existing = store.get(p.name)
        if existing is not None and p.name not in ours:
            made.append(DemoAccount(p.name, existing.role, existing.code, p.label, None, False, existing.disabled))
            continue
        password = new_password()
        if existing is None:
            store.add(p.name, p.role, code=p.code, password=password)
            ours.add(p.name)
            _write_marker(marker, ours)  # at once: a later failure must not orphan it
            made.append(DemoAccount(p.name, p.role, p.code, p.label, password, True))
        else:
            store.set_password(p.name, password)
            made.append(DemoAccount(p.name, existing.role, existing.code, p.label, password, False,
                                    existing.disabled))
    return made
