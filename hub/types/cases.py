"""The case record, exactly as `hub cases --format jsonl` prints it (interfaces.md).

    case_id        "c-" + 24 hex chars, deterministic from (person key, type, opening date)
    type           DECROCHAGE | OBLIGATION_FORMATION | RUPTURE | PREVENTION
    status         OUVERT | ALERTE | RESOLU | CLOS | TRANSFERE
    outcome        None or one of OUTCOMES
    observatoire   observatory code, or "HORS_TERRITOIRE"
    assigned_to    {"role": ROLE, "code": structure code}
    person         {"ine", "nom", "prenom", "date_naissance", "commune_residence"}
    opened_on      ISO date; alerted_on, closed_on: ISO date or None
    periode_essai  bool for RUPTURE (rupture within 45 days of the contract start), else None
    evidence       [{"event_type", "event_date", "source", "source_ref"}] in event-date order
    transfers      [{"date", "from_observatoire", "to_observatoire", "reason"}]
"""

from __future__ import annotations

from typing import Final

DECROCHAGE: Final = "DECROCHAGE"
OBLIGATION_FORMATION: Final = "OBLIGATION_FORMATION"
RUPTURE: Final = "RUPTURE"
PREVENTION: Final = "PREVENTION"
CASE_TYPES: Final = (DECROCHAGE, OBLIGATION_FORMATION, RUPTURE, PREVENTION)

OUVERT: Final = "OUVERT"
ALERTE: Final = "ALERTE"
RESOLU: Final = "RESOLU"
CLOS: Final = "CLOS"
TRANSFERE: Final = "TRANSFERE"
STATUSES: Final = (OUVERT, ALERTE, RESOLU, CLOS, TRANSFERE)
OPEN_STATUSES: Final = (OUVERT, ALERTE)

# Outcomes: RESOLU says which solution, CLOS says why it closed.
OUTCOMES_RESOLU: Final = (
    "RETOUR_SCOLAIRE",
    "APPRENTISSAGE",
    "ACCOMPAGNEMENT_ML",
    "EMPLOI",
    "FORMATION",
    "SCOLARITE",
    "SERVICE_CIVIQUE",
)
OUTCOMES_CLOS: Final = ("SANS_SOLUTION", "ABANDON", "CLOTURE_CTI", "SORTIE")

ROLES: Final = ("MISSION_LOCALE", "CTI_REGION", "CTI_ETAT", "OBSERVATOIRE")
HORS_TERRITOIRE: Final = "HORS_TERRITOIRE"
