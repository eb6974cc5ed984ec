"""Mission locale — I-MILO export CSV (inputs.md §3) → JEUNE_ML.

`code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;date_evenement;dispositif;situation`

- `code_ml` must be a Mission locale of the directory (BAD_VALUE otherwise; compared as
  written, then upper-cased);
- `dispositif` is required for ENTREE_ACCOMPAGNEMENT, `situation` for SITUATION; both
  are kept (validated) whenever given, whatever the event;
- event id: (code_ml, identifiant_milo, evenement, date_evenement, dispositif,
  situation) — the person's identity in I-MILO is (code_ml, identifiant_milo);
- default as-of: the latest `date_evenement` (a row rejected for another field counts
  when its date is valid);
- columns `ine` and `commune_residence` may be absent from the header (always optional).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.identity import event_id
from hub.types.events import JEUNE_ML, ML_DISPOSITIFS, ML_EVENEMENTS, ML_SITUATIONS, SOURCE_TOPICS
from hub.validation import BAD_VALUE

from connectors.core.fields import Fields, make_event, person
from connectors.core.tabular import CsvConnector
from connectors.core.types import Context, Mapped, Rejected

SOURCE = "mission-locale"
TOPIC = SOURCE_TOPICS[SOURCE]
COLUMNS = (
    "code_ml",
    "identifiant_milo",
    "ine",
    "nom",
    "prenom",
    "date_naissance",
    "commune_residence",
    "evenement",
    "date_evenement",
    "dispositif",
    "situation",
)
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c not in ("ine", "commune_residence"))


def _code_ml(f: Fields, ctx: Context) -> str | None:
    code = f.text("code_ml")
    if not code:
        f.missing("code_ml", "Mission locale")
        return None
    directory = ctx.directory
    if directory is None:
        raise RuntimeError("mission-locale: validation needs the directory")
    for candidate in (code, code.upper()):
        if directory.has_mission_locale(candidate):
            return candidate
    f.fail("code_ml", (BAD_VALUE, f"Mission locale {code!r} inconnue de l'annuaire"))
    return None


def validate(row: Mapping[str, Any], ctx: Context, *, ref: str = "api") -> Mapped | Rejected:
    f = Fields(row)
    code_ml = _code_ml(f, ctx)
    milo = f.required("identifiant_milo")
    ine = f.ine("ine")
    nom = f.name("nom")
    prenom = f.name("prenom")
    naissance = f.date("date_naissance")
    commune = f.commune("commune_residence", optional=True)
    evenement = f.enum("evenement", ML_EVENEMENTS)
    date_evenement = f.date("date_evenement")
    dispositif = f.enum("dispositif", ML_DISPOSITIFS, optional=True)
    situation = f.enum("situation", ML_SITUATIONS, optional=True)
    if evenement == "ENTREE_ACCOMPAGNEMENT" and not f.text("dispositif"):
        f.missing("dispositif", "obligatoire pour ENTREE_ACCOMPAGNEMENT")
    if evenement == "SITUATION" and not f.text("situation"):
        f.missing("situation", "obligatoire pour SITUATION")
    if not f.ok:
        return f.rejected(date_evenement, naissance)
    assert code_ml and milo and nom and prenom and naissance and evenement and date_evenement
    eid = event_id(
        SOURCE, code_ml, milo, evenement, date_evenement.isoformat(), dispositif or "", situation or ""
    )
    event = make_event(
        ctx,
        JEUNE_ML,
        eid,
        ref,
        date_evenement,
        person(ine, nom, prenom, naissance, commune),
        code_ml=code_ml,
        identifiant_milo=milo,
        evenement=evenement,
        dispositif=dispositif,
        situation=situation,
    )
    return Mapped([event], warnings=f.warnings)


CONNECTOR = CsvConnector(SOURCE, COLUMNS, REQUIRED_COLUMNS, validate, needs_directory=True)
