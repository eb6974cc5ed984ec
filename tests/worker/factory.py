"""Events, shaped exactly like the connectors publish them (hub/types/events.py)."""

from __future__ import annotations

import random
import string
from datetime import UTC, date, datetime

from hub.identity import event_id

RECEIVED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SOURCE_OF = {
    "ELEVE_INSCRIT": "rectorat",
    "ELEVE_SORTI": "rectorat",
    "ABSENTEISME_MENSUEL": "absenteisme",
    "JEUNE_ML": "mission-locale",
    "CONTRAT_SIGNE": "cfa",
    "CONTRAT_ROMPU": "cfa",
    "SORTIE_CFA": "cfa",
    "SIGNALEMENT_CTI": "cti",
    "ACTION_SUIVI": "suivi",
}

# From deploy/sample/annuaire-poitou-charentes.yaml (the directory the tests load).
LP_86 = "0860012W"  # Lycée professionnel du Dolmen, Poitiers, CTI-E-86-01
LYCEE_86 = "0860005N"  # Lycée Camille Guérin, Poitiers, no CTI
LYCEE_17 = "0170027M"  # Lycée Jean Dautet, La Rochelle
CFA_86 = "0861410R"  # CFA CMA de la Vienne, CTI-R-86-01
POITIERS = "86194"  # OBS-86, ML-86-POI
LA_ROCHELLE = "17300"  # OBS-17, ML-17-LRO
NIORT = "79191"  # OBS-79, ML-79-NIO


def random_ine(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    return "".join(rng.choices(string.digits, k=9)) + "".join(rng.choices(string.ascii_uppercase, k=2))


def random_name(rng: random.Random | None = None, size: int = 10) -> str:
    rng = rng or random.Random()
    return "T" + "".join(rng.choices(string.ascii_uppercase, k=size))


def person(nom: str, prenom: str = "Élodie", dob: date = date(2009, 2, 14), ine: str | None = None,
           commune: str | None = POITIERS) -> dict:
    return {"ine": ine, "nom": nom, "prenom": prenom, "date_naissance": dob, "commune_residence": commune}


def with_(p: dict, **changes) -> dict:
    """A copy of person `p` with some fields changed (`commune` = commune_residence)."""
    if "commune" in changes:
        changes["commune_residence"] = changes.pop("commune")
    return {**p, **changes}


def _event(event_type: str, p: dict, on: date, ref: str, **fields) -> dict:
    source = SOURCE_OF[event_type]
    return {
        "event_id": event_id(source, event_type, ref, p["nom"], p.get("ine") or "", on.isoformat()),
        "event_type": event_type,
        "source": source,
        "source_ref": ref,
        "event_date": on,
        "received_at": RECEIVED,
        "person": dict(p),
        **fields,
    }


def eleve_inscrit(p: dict, on: date, uai: str = LYCEE_86, eleve_id: str = "1", ref: str | None = None) -> dict:
    return _event("ELEVE_INSCRIT", p, on, ref or f"{uai}.xml:ELEVE[{eleve_id}]:in", uai=uai, eleve_id=eleve_id)


def eleve_sorti(p: dict, on: date, uai: str = LYCEE_86, eleve_id: str = "1", motif: str = "05",
                ref: str | None = None) -> dict:
    return _event("ELEVE_SORTI", p, on, ref or f"{uai}.xml:ELEVE[{eleve_id}]", uai=uai, eleve_id=eleve_id,
                  motif_sortie=motif)


def jeune_ml(p: dict, on: date, evenement: str, *, situation: str | None = None, dispositif: str | None = None,
             code_ml: str = "ML-86-POI", milo: str = "M-1", ref: str | None = None) -> dict:
    return _event("JEUNE_ML", p, on, ref or f"milo.csv:{evenement}:{on.isoformat()}", code_ml=code_ml,
                  identifiant_milo=milo, evenement=evenement, dispositif=dispositif, situation=situation)


def contrat_signe(p: dict, on: date, numero: str = "C1", uai_cfa: str = CFA_86, ref: str | None = None) -> dict:
    return _event("CONTRAT_SIGNE", p, on, ref or f"cfa.csv:{numero}:signe", numero_contrat=numero, uai_cfa=uai_cfa,
                  siret_employeur="73282932000074", rqth=False, date_debut_contrat=on)


def contrat_rompu(p: dict, on: date, debut: date, numero: str = "C1", uai_cfa: str = CFA_86,
                  cause: str | None = "ACCORD_COMMUN", ref: str | None = None) -> dict:
    return _event("CONTRAT_ROMPU", p, on, ref or f"cfa.csv:{numero}:rompu", numero_contrat=numero, uai_cfa=uai_cfa,
                  siret_employeur=None, rqth=False, date_debut_contrat=debut, cause_rupture=cause)


def sortie_cfa(p: dict, on: date, uai_cfa: str = CFA_86, ref: str | None = None) -> dict:
    return _event("SORTIE_CFA", p, on, ref or f"cfa.csv:sortie:{on.isoformat()}", numero_contrat=None,
                  uai_cfa=uai_cfa, siret_employeur=None, rqth=False)


def action(p: dict, on: date, case_id: str, action_: str, solution: str | None = None,
           auteur: str = "ML-86-POI", ref: str | None = None) -> dict:
    return _event("ACTION_SUIVI", p, on, ref or f"web:{case_id}:{action_}:{on.isoformat()}", case_id=case_id,
                  action=action_, solution=solution, auteur=auteur, commentaire=None)


def watermark(source: str, as_of: date) -> dict:
    return {"source": source, "as_of": as_of, "published_at": RECEIVED}


def bulk(n_persons: int, tag: str, base: date, seed: int = 7) -> list[dict]:
    """A varied batch: exits (some solved by ML or an enrolment, some moving), ruptures
    (some linked from INE-less records), for `n_persons` persons named after `tag`."""
    from datetime import timedelta

    rng = random.Random(f"{tag}:{seed}")  # INEs differ from one tag to another
    events: list[dict] = []
    communes = [POITIERS, LA_ROCHELLE, NIORT]
    for i in range(n_persons):
        dob = base - timedelta(days=rng.randrange(16 * 365 + 30, 22 * 365))
        ine = random_ine(rng) if rng.random() < 0.85 else None
        p = person(f"{tag}{i:06d}", prenom=rng.choice(["Élodie", "Jean-Pierre", "Zoé", "Ali"]), dob=dob, ine=ine,
                   commune=rng.choice(communes))
        kind = rng.random()
        d0 = base + timedelta(days=rng.randrange(0, 60))
        if kind < 0.6:
            events.append(eleve_inscrit(p, d0 - timedelta(days=200), uai=LYCEE_86, eleve_id=str(i)))
            events.append(eleve_sorti(p, d0, uai=LYCEE_86, eleve_id=str(i), motif=rng.choice(["05", "09", "99", "04"])))
            r = rng.random()
            if r < 0.3:
                events.append(jeune_ml(with_(p, ine=None), d0 + timedelta(days=rng.randrange(5, 90)),
                                       "ENTREE_ACCOMPAGNEMENT", dispositif="CEJ", milo=f"M{i}"))
            elif r < 0.45:
                events.append(jeune_ml(with_(p, ine=None, commune=rng.choice(communes)),
                                       d0 + timedelta(days=rng.randrange(31, 120)), "PREMIER_ACCUEIL", milo=f"M{i}"))
        else:
            start = d0 - timedelta(days=rng.randrange(10, 300))
            events.append(contrat_signe(p, start, numero=f"K{i}"))
            nameless = rng.random() < 0.4
            events.append(contrat_rompu(with_(p, ine=None) if nameless else p, d0, debut=start, numero=f"K{i}",
                                        cause=rng.choice([None, "ACCORD_COMMUN", "LICENCIEMENT"])))
            if rng.random() < 0.3:
                events.append(contrat_signe(p, d0 + timedelta(days=rng.randrange(5, 200)), numero=f"L{i}"))
    return events
