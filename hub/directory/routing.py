"""Routing (rules.md §6): which observatory, which counsellor. Pure functions of a Directory.

Choices where the rule leaves room, all deliberate:

- A residence commune that no observatory covers falls back to the establishment's
  commune as the rule says, whether that one is covered or not: a case whose residence
  and establishment are both outside every observatory goes to HORS_TERRITOIRE with the
  Mission locale of the establishment's commune, if any — the same as when the
  residence is unknown (a black-box audit found the two treated apart). The residence
  stays the territory only when the establishment has no commune (unknown to the
  directory), where the rule names nothing.
- An establishment unknown to the directory has no commune: RUPTURE/DECROCHAGE/
  OBLIGATION_FORMATION then use the residence alone; PREVENTION, which the rule ties to
  the establishment only, goes to HORS_TERRITOIRE so the directory gap gets noticed.
- RUPTURE falls back to the Mission locale covering the *territory* commune (the
  residence, or the CFA's commune when the residence did not route): the same commune
  that chose the observatory, so the counsellor belongs to that observatory's area.
- A CTI is used only for the role its type serves: a CTI REGION for RUPTURE
  (CTI_REGION), a CTI ETAT for PREVENTION (CTI_ETAT). An establishment whose CTI is of
  the other type counts as having none, and the fallback applies.
- The observatory is always the territory's (by département), even when the counsellor
  is a Mission locale attached to another observatory.
"""

from __future__ import annotations

from typing import NamedTuple

from hub.types.cases import (
    DECROCHAGE,
    HORS_TERRITOIRE,
    OBLIGATION_FORMATION,
    PREVENTION,
    RUPTURE,
)
from hub.types.directory import Directory

MISSION_LOCALE = "MISSION_LOCALE"
CTI_REGION = "CTI_REGION"
CTI_ETAT = "CTI_ETAT"
OBSERVATOIRE = "OBSERVATOIRE"

_RESIDENCE_ROUTED = (DECROCHAGE, OBLIGATION_FORMATION, RUPTURE)


class Routing(NamedTuple):
    observatoire: str  # observatory code, or HORS_TERRITOIRE
    assigned_to_role: str  # MISSION_LOCALE | CTI_REGION | CTI_ETAT | OBSERVATOIRE
    assigned_to_code: str  # structure code (HORS_TERRITOIRE when nobody covers the case)


def territory_commune(
    case_type: str, residence_commune: str | None, establishment_uai: str | None, directory: Directory
) -> str | None:
    """The commune that decides the territory (rules.md §6 "Territory"), or None."""
    if case_type not in (*_RESIDENCE_ROUTED, PREVENTION):
        raise ValueError(f"type de dossier inconnu: {case_type!r}")
    etab = directory.etablissement(establishment_uai) if establishment_uai else None
    etab_commune = etab.commune if etab else None
    if case_type == PREVENTION:
        return etab_commune
    residence = residence_commune or None
    if residence and directory.observatoire_for_commune(residence):
        return residence
    return etab_commune or residence


def route(
    case_type: str, residence_commune: str | None, establishment_uai: str | None, directory: Directory
) -> Routing:
    """Observatory and counsellor of a case.

    `establishment_uai` is the establishment left (exit cases), the CFA of the rupture
    (RUPTURE) or the establishment of the prevention signal (PREVENTION).
    """
    commune = territory_commune(case_type, residence_commune, establishment_uai, directory)
    observatoire = (directory.observatoire_for_commune(commune) if commune else None) or HORS_TERRITOIRE
    mission_locale = directory.mission_locale_for_commune(commune) if commune else None
    etab = directory.etablissement(establishment_uai) if establishment_uai else None
    cti = directory.cti(etab.cti) if etab and etab.cti else None

    if case_type == RUPTURE and cti and cti.type == "REGION":
        return Routing(observatoire, CTI_REGION, cti.code)
    if case_type == PREVENTION and cti and cti.type == "ETAT":
        return Routing(observatoire, CTI_ETAT, cti.code)
    if case_type in _RESIDENCE_ROUTED and mission_locale:
        return Routing(observatoire, MISSION_LOCALE, mission_locale)
    # The observatory itself; for HORS_TERRITOIRE, the operators' queue of that name.
    return Routing(observatoire, OBSERVATOIRE, observatoire)
