"""Event dicts for the rule tests, shaped like hub.types.events, plus a tiny directory.

Every builder takes the person's identity as keywords (`dob`, `commune`, `ine`) and a
`ref` that makes the event id unique when two otherwise identical facts are wanted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

from hub.identity import event_id
from hub.rules import evaluate
from hub.settings import RulesConfig
from hub.types.cases import HORS_TERRITOIRE, PREVENTION, RUPTURE
from hub.types.directory import Cti, Etablissement

KEY = "123456789AB"
DOB = date(2008, 5, 10)  # 16 on 2024-05-10, 18 on 2026-05-10
LYCEE_A = "0860012W"
LYCEE_B = "0860034V"
CFA = "0860099R"
LYCEE_17 = "0170001J"
POITIERS = "86194"
CHATELLERAULT = "86066"
BUXEROLLES = "86041"  # same Mission locale as Poitiers
LA_ROCHELLE = "17300"
NIORT = "79191"
CONFIG = RulesConfig()
RECEIVED = datetime(2026, 1, 1, tzinfo=timezone.utc)


def d(s: str) -> date:
    return date.fromisoformat(s)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def _event(event_type: str, day: date, source: str, fields: dict, dob, commune, ine, ref, nom="DUPONT") -> dict:
    natural = [event_type, day.isoformat(), repr(sorted(fields.items())), str(ref)]
    ev = {
        "event_id": event_id(source, *natural),
        "event_type": event_type,
        "source": source,
        "source_ref": f"{source}-{day.isoformat()}.csv:{ref}",
        "event_date": day,
        "received_at": RECEIVED,
        "person": {"ine": ine, "nom": nom, "prenom": "Élodie", "date_naissance": dob, "commune_residence": commune},
    }
    ev.update(fields)
    return ev


def inscrit(day, uai=LYCEE_A, *, dob=DOB, commune=POITIERS, ine=KEY, ref=0):
    return _event("ELEVE_INSCRIT", day, "rectorat", {"uai": uai, "eleve_id": "1"}, dob, commune, ine, ref)


def sorti(day, motif="05", uai=LYCEE_A, *, dob=DOB, commune=POITIERS, ine=KEY, ref=0):
    return _event(
        "ELEVE_SORTI", day, "rectorat", {"uai": uai, "eleve_id": "1", "motif_sortie": motif}, dob, commune, ine, ref
    )


def signe(day, numero="C2", uai_cfa=CFA, debut=None, *, dob=DOB, commune=POITIERS, ine=KEY, ref=0):
    fields = {
        "numero_contrat": numero,
        "uai_cfa": uai_cfa,
        "siret_employeur": "73282932000074",
        "rqth": False,
        "date_debut_contrat": debut,
    }
    return _event("CONTRAT_SIGNE", day, "cfa", fields, dob, commune, ine, ref)


def rompu(day, numero="C1", debut=None, cause="DEMISSION_APPRENTI", uai_cfa=CFA, *, dob=DOB, commune=POITIERS, ine=KEY, ref=0):
    fields = {
        "numero_contrat": numero,
        "uai_cfa": uai_cfa,
        "siret_employeur": None,
        "rqth": False,
        "date_debut_contrat": debut if debut is not None else day - days(200),
        "cause_rupture": cause,
    }
    return _event("CONTRAT_ROMPU", day, "cfa", fields, dob, commune, ine, ref)


def sortie_cfa(day, numero=None, uai_cfa=CFA, *, dob=DOB, commune=POITIERS, ine=KEY, ref=0):
    fields = {"numero_contrat": numero, "uai_cfa": uai_cfa, "siret_employeur": None, "rqth": False}
    return _event("SORTIE_CFA", day, "cfa", fields, dob, commune, ine, ref)


def ml(day, evenement, situation=None, dispositif=None, code_ml="ML-86-POI", *, dob=DOB, commune=POITIERS, ine=None, ref=0):
    if evenement == "ENTREE_ACCOMPAGNEMENT" and dispositif is None:
        dispositif = "CEJ"
    fields = {
        "code_ml": code_ml,
        "identifiant_milo": "M1",
        "evenement": evenement,
        "dispositif": dispositif,
        "situation": situation,
    }
    return _event("JEUNE_ML", day, "mission-locale", fields, dob, commune, ine, ref)


def absence(mois: str, count: int, uai=LYCEE_A, *, dob=DOB, commune=POITIERS, ine=KEY, ref=0):
    y, m = int(mois[:4]), int(mois[5:7])
    last = (date(y + (m == 12), m % 12 + 1, 1)) - days(1)
    fields = {"uai": uai, "mois": mois, "demi_journees_non_justifiees": count, "demi_journees_justifiees": 0}
    return _event("ABSENTEISME_MENSUEL", last, "absenteisme", fields, dob, commune, ine, ref)


def cti(day, kind="REPERAGE", uai=LYCEE_A, reference=None, *, dob=DOB, commune=POITIERS, ine=KEY, ref=0):
    fields = {
        "cti": "CTI-E-86-01",
        "uai": uai,
        "type": kind,
        "reference": reference or f"fiche-{day.isoformat()}-{kind}-{ref}",
        "motif": None,
    }
    return _event("SIGNALEMENT_CTI", day, "cti", fields, dob, commune, ine, ref)


def action(day, case_id, what, solution=None, *, dob=DOB, ine=KEY, ref=0):
    fields = {"case_id": case_id, "action": what, "solution": solution, "auteur": "ML-86-POI", "commentaire": None}
    return _event("ACTION_SUIVI", day, "suivi", fields, dob, None, ine, ref)


# -- a tiny directory and routing function -------------------------------------------


class Routing(NamedTuple):
    observatoire: str
    assigned_to_role: str
    assigned_to_code: str


class FakeDirectory:
    """Vienne (86) and Charente-Maritime (17); Niort (79) is covered by nobody."""

    OBS = {"86": "OBS-86", "17": "OBS-17"}
    ML = {POITIERS: "ML-86-POI", BUXEROLLES: "ML-86-POI", CHATELLERAULT: "ML-86-CHA", LA_ROCHELLE: "ML-17-LR"}
    ETABS = {
        LYCEE_A: Etablissement(LYCEE_A, "LP A", "LP", POITIERS, "CTI-E-86-01"),
        LYCEE_B: Etablissement(LYCEE_B, "Lycée B", "LYCEE", CHATELLERAULT, None),
        CFA: Etablissement(CFA, "CFA", "CFA", POITIERS, "CTI-R-86-02"),
        LYCEE_17: Etablissement(LYCEE_17, "LP 17", "LP", LA_ROCHELLE, "CTI-E-17-01"),
    }
    CTIS = {
        "CTI-E-86-01": Cti("CTI-E-86-01", "ETAT", "CTI LP A"),
        "CTI-R-86-02": Cti("CTI-R-86-02", "REGION", "CTI CFA"),
        "CTI-E-17-01": Cti("CTI-E-17-01", "ETAT", "CTI LP 17"),
    }

    def observatoire_for_commune(self, commune):
        return self.OBS.get(commune[:2]) if commune else None

    def mission_locale_for_commune(self, commune):
        return self.ML.get(commune)

    def etablissement(self, uai):
        return self.ETABS.get(uai)

    def cti(self, code):
        return self.CTIS.get(code)

    def has_mission_locale(self, code):
        return code in self.ML.values()

    def observatoire_of_mission_locale(self, code):
        return {"ML-86-POI": "OBS-86", "ML-86-CHA": "OBS-86", "ML-17-LR": "OBS-17"}.get(code)


DIRECTORY = FakeDirectory()


def fake_route(case_type, residence, uai, directory):
    """A simplified rules.md §6, enough to see where a case goes."""
    etab = directory.etablissement(uai) if uai else None
    commune = residence if case_type != PREVENTION else None
    if not (commune and directory.observatoire_for_commune(commune)):
        commune = etab.commune if etab else commune
    obs = (directory.observatoire_for_commune(commune) if commune else None) or HORS_TERRITOIRE
    if case_type == RUPTURE and etab and etab.cti:
        return Routing(obs, "CTI_REGION", etab.cti)
    if case_type == PREVENTION:
        return Routing(obs, "CTI_ETAT", etab.cti) if etab and etab.cti else Routing(obs, "OBSERVATOIRE", obs)
    mission = directory.mission_locale_for_commune(commune) if commune else None
    if mission:
        return Routing(obs, "MISSION_LOCALE", mission)
    return Routing(obs, "OBSERVATOIRE", obs)


def run(events, clock, config=CONFIG, key=KEY, route=fake_route, aliases=()):
    return evaluate(key, events, clock, DIRECTORY, config, route=route, aliases=aliases)


def cases(events, clock, **kw):
    return run(events, clock, **kw).cases


def one(events, clock, **kw) -> dict:
    found = cases(events, clock, **kw)
    assert len(found) == 1, found
    return found[0]


def evidence_types(case: dict) -> list[str]:
    return [e["event_type"] for e in case["evidence"]]
