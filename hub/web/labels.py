"""French labels of the codes shown on the pages (the codes themselves stay in the data)."""

from __future__ import annotations

from datetime import date, datetime

CASE_TYPES = {
    "DECROCHAGE": "Décrochage",
    "OBLIGATION_FORMATION": "Obligation de formation",
    "RUPTURE": "Rupture de contrat d'apprentissage",
    "PREVENTION": "Prévention",
}
STATUSES = {
    "ALERTE": "Alerte",
    "OUVERT": "Ouvert",
    "RESOLU": "Résolu",
    "CLOS": "Clos",
    "TRANSFERE": "Transféré",
}
# "3 dossiers : 1 en alerte, 2 ouverts" (singular, plural).
STATUS_COUNTS = {
    "ALERTE": ("en alerte", "en alerte"),
    "OUVERT": ("ouvert", "ouverts"),
    "RESOLU": ("résolu", "résolus"),
    "CLOS": ("clos", "clos"),
    "TRANSFERE": ("transféré", "transférés"),
}
OUTCOMES = {
    "RETOUR_SCOLAIRE": "Retour en formation scolaire",
    "APPRENTISSAGE": "Apprentissage",
    "ACCOMPAGNEMENT_ML": "Accompagnement par la Mission locale",
    "EMPLOI": "Emploi",
    "FORMATION": "Formation",
    "SCOLARITE": "Scolarité",
    "SERVICE_CIVIQUE": "Service civique",
    "SANS_SOLUTION": "Sans solution",
    "ABANDON": "Abandon de la formation",
    "CLOTURE_CTI": "Clôture par le CTI",
    "SORTIE": "Sortie de l'établissement",
}
EVENT_TYPES = {
    "ELEVE_INSCRIT": "Inscription dans un établissement",
    "ELEVE_SORTI": "Sortie d'établissement",
    "ABSENTEISME_MENSUEL": "Absentéisme du mois",
    "JEUNE_ML": "Événement Mission locale",
    "CONTRAT_SIGNE": "Contrat d'apprentissage signé",
    "CONTRAT_ROMPU": "Contrat d'apprentissage rompu",
    "SORTIE_CFA": "Sortie du CFA",
    "SIGNALEMENT_CTI": "Signalement d'un CTI",
    "ACTION_SUIVI": "Action de suivi",
}
ACTIONS = {
    "CONTACTE": "Jeune contacté",
    "RDV_PRIS": "Rendez-vous pris",
    "ENTRETIEN_REALISE": "Entretien réalisé",
    "INJOIGNABLE": "Injoignable",
    "REFUS": "Refus de l'accompagnement",
    "DEJA_ACCOMPAGNE": "Déjà accompagné",
    "SOLUTION_CONSEILLER": "Solution trouvée",
}
ROLES = {
    "OBSERVATOIRE": "Observatoire",
    "MISSION_LOCALE": "Mission locale",
    "CTI_ETAT": "CTI État",
    "CTI_REGION": "CTI Région",
    "OPERATEUR": "Exploitation",
    "INSTITUTION": "Institution",
}
SOURCES = {
    "rectorat": "Rectorat (SIECLE)",
    "absenteisme": "Rectorat (absentéisme)",
    "mission-locale": "Mission locale (I-MILO)",
    "cfa": "CFA",
    "cti": "CTI",
    "suivi": "Suivi des conseillers",
}
TRANSFER_REASONS = {"DEMENAGEMENT": "Déménagement", "ANNUAIRE": "Mise à jour de l'annuaire"}


def label(table: dict[str, str], code: str | None) -> str:
    if code is None:
        return ""
    return table.get(code, code)


def fr_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%d/%m/%Y")


def iso(value: date | datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def jinja_globals() -> dict:
    return {
        "CASE_TYPES": CASE_TYPES,
        "STATUSES": STATUSES,
        "STATUS_COUNTS": STATUS_COUNTS,
        "OUTCOMES": OUTCOMES,
        "EVENT_TYPES": EVENT_TYPES,
        "ACTIONS": ACTIONS,
        "ROLES": ROLES,
        "SOURCES": SOURCES,
        "TRANSFER_REASONS": TRANSFER_REASONS,
        "label": label,
    }
