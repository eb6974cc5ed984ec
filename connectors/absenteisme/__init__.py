"""Rectorat — monthly absenteeism CSV (inputs.md §2) → ABSENTEISME_MENSUEL.

`uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees`

- the event is dated the last day of `mois`; default as-of: the latest such date (a row
  rejected for another field counts when its `mois` is valid);
- event id: (uai, person key, mois, both counts). A corrected count for the same month
  is a new fact (new id): the engine keeps the latest received for a month. The same
  line again (even in a renamed file) is the same id;
- both counts are required (MISSING_FIELD when empty), integers ≥ 0 (BAD_VALUE);
- `ine` is the only column that may be absent from the header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.identity import event_id, person_key
from hub.types.events import ABSENTEISME_MENSUEL, SOURCE_TOPICS

from connectors.core.fields import Fields, last_day_of_month, make_event, person
from connectors.core.tabular import CsvConnector
from connectors.core.types import Context, Mapped, Rejected

SOURCE = "absenteisme"
TOPIC = SOURCE_TOPICS[SOURCE]
COLUMNS = (
    "uai",
    "ine",
    "nom",
    "prenom",
    "date_naissance",
    "mois",
    "demi_journees_non_justifiees",
    "demi_journees_justifiees",
)
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c != "ine")


def validate(row: Mapping[str, Any], ctx: Context, *, ref: str = "api") -> Mapped | Rejected:
    f = Fields(row)
    uai = f.uai("uai")
    ine = f.ine("ine")
    nom = f.name("nom")
    prenom = f.name("prenom")
    naissance = f.date("date_naissance")
    mois = f.month("mois")
    non_justifiees = f.count("demi_journees_non_justifiees")
    justifiees = f.count("demi_journees_justifiees")
    if not f.ok:
        return f.rejected(last_day_of_month(*mois) if mois else None, naissance)
    assert uai and nom and prenom and naissance and mois and non_justifiees is not None and justifiees is not None
    year, month = mois
    mois_text = f"{year:04d}-{month:02d}"
    pkey = person_key(ine, nom, prenom, naissance, ctx.secret)
    eid = event_id(SOURCE, uai, pkey, mois_text, str(non_justifiees), str(justifiees))
    event = make_event(
        ctx,
        ABSENTEISME_MENSUEL,
        eid,
        ref,
        last_day_of_month(year, month),
        person(ine, nom, prenom, naissance, None),
        uai=uai,
        mois=mois_text,
        demi_journees_non_justifiees=non_justifiees,
        demi_journees_justifiees=justifiees,
    )
    return Mapped([event], warnings=f.warnings)


CONNECTOR = CsvConnector(SOURCE, COLUMNS, REQUIRED_COLUMNS, validate)
