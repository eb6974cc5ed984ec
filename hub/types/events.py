"""The event model shared by connectors, codec and engine.

Events travel as plain dicts shaped exactly like their Avro schema under `schemas/`
(fastavro reads and writes such dicts without conversion, which keeps the hot path
cheap). Dates are `datetime.date`, `received_at` is an aware `datetime` in UTC.

Envelope (every event, see interfaces.md "Event encoding"):

    event_id      str   deterministic, "e-" + 32 hex chars (see hub.identity.event_id)
    event_type    str   one of EVENT_TYPES
    source        str   one of SOURCES (the connector that produced it)
    source_ref    str   "file.csv:42", "export.xml:ELEVE[17]", or a CTI report reference
    event_date    date  when the fact happened
    received_at   datetime (UTC) when the hub received it
    person        dict  {"ine": str|None, "nom": str, "prenom": str,
                         "date_naissance": date, "commune_residence": str|None}

Fields of each type (names from inputs.md):

    ELEVE_INSCRIT        uai, eleve_id
    ELEVE_SORTI          uai, eleve_id, motif_sortie ("01".."09" or "99")
    ABSENTEISME_MENSUEL  uai, mois ("AAAA-MM"), demi_journees_non_justifiees,
                         demi_journees_justifiees
    JEUNE_ML             code_ml, identifiant_milo, evenement, dispositif|None,
                         situation|None
    CONTRAT_SIGNE        numero_contrat, uai_cfa, siret_employeur, rqth (bool),
                         date_debut_contrat|None
    CONTRAT_ROMPU        numero_contrat, uai_cfa, siret_employeur|None, rqth,
                         date_debut_contrat, cause_rupture|None
    SORTIE_CFA           numero_contrat|None, uai_cfa, siret_employeur|None, rqth
    SIGNALEMENT_CTI      cti, uai, type (REPERAGE|SUIVI|CLOTURE), reference, motif|None
    ACTION_SUIVI         case_id, action, solution|None, auteur (structure code),
                         commentaire|None   (source "suivi", on suivi.actions.v1)
"""

from __future__ import annotations

from typing import Final

SOURCES: Final = ("rectorat", "absenteisme", "mission-locale", "cfa", "cti", "suivi")

# Sources whose watermark makes the hub's clock (rules.md §3).
CLOCK_SOURCES: Final = ("rectorat", "mission-locale", "cfa")

ELEVE_INSCRIT: Final = "ELEVE_INSCRIT"
ELEVE_SORTI: Final = "ELEVE_SORTI"
ABSENTEISME_MENSUEL: Final = "ABSENTEISME_MENSUEL"
JEUNE_ML: Final = "JEUNE_ML"
CONTRAT_SIGNE: Final = "CONTRAT_SIGNE"
CONTRAT_ROMPU: Final = "CONTRAT_ROMPU"
SORTIE_CFA: Final = "SORTIE_CFA"
SIGNALEMENT_CTI: Final = "SIGNALEMENT_CTI"
ACTION_SUIVI: Final = "ACTION_SUIVI"

EVENT_TYPES: Final = (
    ELEVE_INSCRIT,
    ELEVE_SORTI,
    ABSENTEISME_MENSUEL,
    JEUNE_ML,
    CONTRAT_SIGNE,
    CONTRAT_ROMPU,
    SORTIE_CFA,
    SIGNALEMENT_CTI,
    ACTION_SUIVI,
)

# Enumerations of inputs.md and rules.md.
MOTIFS_SORTIE: Final = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "99")
ML_EVENEMENTS: Final = ("PREMIER_ACCUEIL", "ENTREE_ACCOMPAGNEMENT", "SORTIE_ACCOMPAGNEMENT", "SITUATION")
ML_DISPOSITIFS: Final = ("CEJ", "PACEA", "AUTRE")
ML_SITUATIONS: Final = (
    "EMPLOI",
    "FORMATION",
    "APPRENTISSAGE",
    "SCOLARITE",
    "SERVICE_CIVIQUE",
    "SANS_SOLUTION",
    "INJOIGNABLE",
)
ML_SITUATIONS_SOLUTION: Final = ("EMPLOI", "FORMATION", "APPRENTISSAGE", "SCOLARITE", "SERVICE_CIVIQUE")
CFA_EVENEMENTS: Final = (CONTRAT_SIGNE, CONTRAT_ROMPU, SORTIE_CFA)
CAUSES_RUPTURE: Final = (
    "PERIODE_ESSAI",
    "ACCORD_COMMUN",
    "DEMISSION_APPRENTI",
    "LICENCIEMENT",
    "LIQUIDATION",
    "OBTENTION_DIPLOME",
)
CTI_TYPES: Final = ("REPERAGE", "SUIVI", "CLOTURE")
ACTIONS_CONTACT: Final = ("CONTACTE", "RDV_PRIS", "ENTRETIEN_REALISE", "INJOIGNABLE", "REFUS", "DEJA_ACCOMPAGNE")
ACTION_SOLUTION: Final = "SOLUTION_CONSEILLER"
ACTIONS: Final = (*ACTIONS_CONTACT, ACTION_SOLUTION)
# Kinds of solution a counsellor can record with SOLUTION_CONSEILLER (the L114-1 forms).
# (APPRENTISSAGE is also an ML situation: listed once.)
SOLUTION_KINDS: Final = tuple(dict.fromkeys(("RETOUR_SCOLAIRE", "APPRENTISSAGE", "ACCOMPAGNEMENT_ML",
                                             *ML_SITUATIONS_SOLUTION)))

# Source topic of each source (interfaces.md).
SOURCE_TOPICS: Final = {
    "rectorat": "rectorat.eleves.v1",
    "absenteisme": "rectorat.absenteisme.v1",
    "mission-locale": "missions-locales.jeunes.v1",
    "cfa": "cfa.contrats.v1",
    "cti": "cti.signalements.v1",
    "suivi": "suivi.actions.v1",
}
