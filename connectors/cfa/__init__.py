"""CFA — apprenticeship contracts CSV (inputs.md §4) → CONTRAT_SIGNE, CONTRAT_ROMPU, SORTIE_CFA.

`numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;evenement;date_evenement;date_debut_contrat;cause_rupture`

- required: `uai_cfa` always; `numero_contrat` for CONTRAT_SIGNE and CONTRAT_ROMPU;
  `siret_employeur` for CONTRAT_SIGNE; `date_debut_contrat` for CONTRAT_ROMPU;
- a field is checked only when the event type carries it (events.py): a SIRET whenever
  given (all three types carry it), `date_debut_contrat` for SIGNE/ROMPU,
  `cause_rupture` for ROMPU (others ignore these columns);
- `rqth`: O or N, case-insensitive, empty = N (BAD_VALUE otherwise) → bool;
- event id: (numero_contrat, evenement, date_evenement) for SIGNE/ROMPU — the contract
  number is the registry's key; its attributes (cause, SIRET…) are not part of the
  fact's identity, so a corrected attribute does not make a second rupture.
  SORTIE_CFA: (uai_cfa, evenement, date_evenement, person key) — leaving a CFA is about
  the person, the contract number being optional;
- default as-of: the latest `date_evenement` (a row rejected for another field counts
  when its date is valid);
- columns `ine`, `commune_residence`, `rqth` and `cause_rupture` may be absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.identity import event_id, person_key
from hub.types.events import (
    CAUSES_RUPTURE,
    CFA_EVENEMENTS,
    CONTRAT_ROMPU,
    CONTRAT_SIGNE,
    SOURCE_TOPICS,
)
from hub.validation import BAD_VALUE

from connectors.core.fields import Fields, make_event, person
from connectors.core.tabular import CsvConnector
from connectors.core.types import Context, Mapped, Rejected

SOURCE = "cfa"
TOPIC = SOURCE_TOPICS[SOURCE]
COLUMNS = (
    "numero_contrat",
    "uai_cfa",
    "siret_employeur",
    "ine",
    "nom",
    "prenom",
    "date_naissance",
    "commune_residence",
    "rqth",
    "evenement",
    "date_evenement",
    "date_debut_contrat",
    "cause_rupture",
)
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c not in ("ine", "commune_residence", "rqth", "cause_rupture"))


def _rqth(f: Fields) -> bool | None:
    value = f.text("rqth").upper()
    if value in ("", "N"):
        return False
    if value == "O":
        return True
    f.fail("rqth", (BAD_VALUE, f"valeur {value!r} invalide: O ou N attendu"))
    return None


def validate(row: Mapping[str, Any], ctx: Context, *, ref: str = "api") -> Mapped | Rejected:
    f = Fields(row)
    evenement = f.enum("evenement", CFA_EVENEMENTS)
    numero = f.text("numero_contrat") or None
    uai_cfa = f.uai("uai_cfa")
    siret = f.siret("siret_employeur") if f.text("siret_employeur") else None
    ine = f.ine("ine")
    nom = f.name("nom")
    prenom = f.name("prenom")
    naissance = f.date("date_naissance")
    commune = f.commune("commune_residence", optional=True)
    rqth = _rqth(f)
    date_evenement = f.date("date_evenement")
    debut = None
    cause = None
    if evenement in (CONTRAT_SIGNE, CONTRAT_ROMPU):
        if numero is None:
            f.missing("numero_contrat", f"obligatoire pour {evenement}")
        if f.text("date_debut_contrat"):
            debut = f.date("date_debut_contrat")
        elif evenement == CONTRAT_ROMPU:
            f.missing("date_debut_contrat", "obligatoire pour CONTRAT_ROMPU")
    if evenement == CONTRAT_SIGNE and not f.text("siret_employeur"):
        f.missing("siret_employeur", "obligatoire pour CONTRAT_SIGNE")
    if evenement == CONTRAT_ROMPU:
        cause = f.enum("cause_rupture", CAUSES_RUPTURE, optional=True)
    if not f.ok:
        return f.rejected(date_evenement, naissance)
    assert evenement and uai_cfa and nom and prenom and naissance and date_evenement and rqth is not None
    who = person(ine, nom, prenom, naissance, commune)
    day = date_evenement.isoformat()
    if evenement == CONTRAT_SIGNE:
        eid = event_id(SOURCE, str(numero), evenement, day)
        fields = dict(numero_contrat=numero, uai_cfa=uai_cfa, siret_employeur=siret, rqth=rqth, date_debut_contrat=debut)
    elif evenement == CONTRAT_ROMPU:
        eid = event_id(SOURCE, str(numero), evenement, day)
        fields = dict(
            numero_contrat=numero,
            uai_cfa=uai_cfa,
            siret_employeur=siret,
            rqth=rqth,
            date_debut_contrat=debut,
            cause_rupture=cause,
        )
    else:
        pkey = person_key(ine, nom, prenom, naissance, ctx.secret)
        eid = event_id(SOURCE, uai_cfa, evenement, day, pkey)
        fields = dict(numero_contrat=numero, uai_cfa=uai_cfa, siret_employeur=siret, rqth=rqth)
    event = make_event(ctx, evenement, eid, ref, date_evenement, who, **fields)
    return Mapped([event], warnings=f.warnings)


CONNECTOR = CsvConnector(SOURCE, COLUMNS, REQUIRED_COLUMNS, validate)
