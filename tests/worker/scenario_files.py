"""Input files of the scenario tests, written as the institutions export them (inputs.md).

`Inputs` collects, step by step, what every source sends about the scenarios' people and
writes one set of files per step: a folder of SIECLE exports (one per establishment,
ingested as one batch), and the Mission locale, CFA, absenteeism and CTI files. Each
call returns the `Ev` of the fact it wrote — event type, date, source and source
reference, i.e. exactly the evidence entry a case must list — so that the tests can
write their expected cases by hand.

SIECLE exports are snapshots: an establishment's export of step N lists every pupil
listed in an earlier step (unchanged, so that nobody "disappears") plus the new ones,
in a stable order, so a pupil's element number — its `source_ref` — never changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hub.identity import person_key
from hub.settings import Settings
from tests.connectors.helpers import siret, write_csv
from tests.connectors.siecle_files import eleve, export

SIRET = siret("7328293200007")
ML_HEADER = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;date_evenement;"
             "dispositif;situation")
CFA_HEADER = ("numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;evenement;"
              "date_evenement;date_debut_contrat;cause_rupture")
ABS_HEADER = "uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees"


def fr(day: date) -> str:
    return day.strftime("%d/%m/%Y")


@dataclass(frozen=True)
class Ev:
    """One published fact, as a case's evidence lists it."""

    event_type: str
    event_date: date
    source: str
    source_ref: str

    def entry(self) -> dict:
        return {"event_type": self.event_type, "event_date": self.event_date.isoformat(), "source": self.source,
                "source_ref": self.source_ref}


@dataclass
class Person:
    label: str
    nom: str
    dob: date
    ine: str | None
    commune: str | None  # residence written in the records that carry one
    prenom: str = "Élodie"
    ev: dict[str, Ev] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return person_key(self.ine, self.nom, self.prenom, self.dob, Settings().pseudonym_secret)

    @property
    def milo(self) -> str:
        return f"MILO-{self.nom}-{self.label}"


@dataclass
class _Pupil:
    eleve_id: str
    person: Person
    entree: date
    sortie: date | None
    motif: str
    commune: str
    ine: str


class Inputs:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.step = 1
        self.pupils: dict[str, list[_Pupil]] = {}  # per UAJ, every pupil listed so far
        self.touched: set[str] = set()  # UAJs with new pupils this step
        self.rows: dict[str, list[str]] = {"mission-locale": [], "cfa": [], "absenteisme": [], "cti": []}
        self.files: dict[str, str] = {}

    def _file(self, source: str) -> str:
        ext = {"mission-locale": "csv", "cfa": "csv", "absenteisme": "csv", "cti": "jsonl"}[source]
        return f"{source}-{self.step}.{ext}"

    def _csv_ref(self, source: str) -> str:
        # Line 1 is the header.
        return f"{self._file(source)}:{len(self.rows[source]) + 2}"

    # -- Rectorat (SIECLE) -------------------------------------------------------------------

    def eleve(self, uaj: str, p: Person, entree: date, sortie: date | None = None, motif: str = "",
              commune: str | None = None, with_ine: bool = True) -> tuple[Ev, Ev | None]:
        """A pupil of `uaj` (a new ELEVE element): ELEVE_INSCRIT, and ELEVE_SORTI if it left."""
        pupils = self.pupils.setdefault(uaj, [])
        n = len(pupils) + 1
        residence = (p.commune or "") if commune is None else commune
        pupils.append(_Pupil(str(n), p, entree, sortie, motif, residence, (p.ine or "") if with_ine else ""))
        self.touched.add(uaj)
        ref = f"{uaj}-{self.step}.xml:ELEVE[{n}]"
        inscrit = Ev("ELEVE_INSCRIT", entree, "rectorat", ref)
        sorti = Ev("ELEVE_SORTI", sortie, "rectorat", ref) if sortie else None
        return inscrit, sorti

    # -- Mission locale -------------------------------------------------------------------------

    def ml(self, p: Person, evenement: str, day: date, *, code_ml: str = "ML-86-POI", dispositif: str = "",
           situation: str = "", commune: str = "", with_ine: bool = False) -> Ev:
        """One I-MILO row; like the real exports, without INE unless asked."""
        ref = self._csv_ref("mission-locale")
        ine = (p.ine or "") if with_ine else ""
        self.rows["mission-locale"].append(
            f"{code_ml};{p.milo};{ine};{p.nom};{p.prenom};{fr(p.dob)};{commune};{evenement};{fr(day)};"
            f"{dispositif};{situation}")
        return Ev("JEUNE_ML", day, "mission-locale", ref)

    # -- CFA ------------------------------------------------------------------------------------

    def _cfa(self, p: Person, numero: str, uai_cfa: str, evenement: str, day: date, debut: date | None,
             cause: str, siret_: str, commune: str | None, with_ine: bool) -> Ev:
        ref = self._csv_ref("cfa")
        ine = (p.ine or "") if with_ine else ""
        commune = (p.commune or "") if commune is None else commune
        self.rows["cfa"].append(
            f"{numero};{uai_cfa};{siret_};{ine};{p.nom};{p.prenom};{fr(p.dob)};{commune};N;{evenement};{fr(day)};"
            f"{fr(debut) if debut else ''};{cause}")
        return Ev(evenement, day, "cfa", ref)

    def signe(self, p: Person, numero: str, uai_cfa: str, day: date, *, commune: str | None = None,
              with_ine: bool = True) -> Ev:
        return self._cfa(p, numero, uai_cfa, "CONTRAT_SIGNE", day, day, "", SIRET, commune, with_ine)

    def rompu(self, p: Person, numero: str, uai_cfa: str, day: date, debut: date, *, cause: str = "ACCORD_COMMUN",
              commune: str | None = None, with_ine: bool = True) -> Ev:
        return self._cfa(p, numero, uai_cfa, "CONTRAT_ROMPU", day, debut, cause, "", commune, with_ine)

    def sortie_cfa(self, p: Person, uai_cfa: str, day: date, *, commune: str | None = None,
                   with_ine: bool = True) -> Ev:
        return self._cfa(p, "", uai_cfa, "SORTIE_CFA", day, None, "", "", commune, with_ine)

    # -- absenteeism and CTI ----------------------------------------------------------------------

    def absences(self, p: Person, uai: str, year: int, month: int, unjustified: int, justified: int = 0) -> Ev:
        ref = self._csv_ref("absenteisme")
        self.rows["absenteisme"].append(
            f"{uai};{p.ine or ''};{p.nom};{p.prenom};{fr(p.dob)};{year:04d}-{month:02d};{unjustified};{justified}")
        nxt = date(year + month // 12, month % 12 + 1, 1)
        return Ev("ABSENTEISME_MENSUEL", date.fromordinal(nxt.toordinal() - 1), "absenteisme", ref)

    def cti(self, p: Person, cti: str, uai: str, kind: str, day: date, reference: str,
            commune: str | None = None) -> Ev:
        jeune = {"ine": p.ine, "nom": p.nom, "prenom": p.prenom, "date_naissance": p.dob.isoformat(),
                 "commune_residence": p.commune if commune is None else commune}
        self.rows["cti"].append(json.dumps({"cti": cti, "uai": uai, "type": kind, "date": day.isoformat(),
                                            "reference": reference, "motif": "scénario", "jeune": jeune},
                                           ensure_ascii=False))
        return Ev("SIGNALEMENT_CTI", day, "cti", reference)

    # -- writing ----------------------------------------------------------------------------------

    def write(self, as_of: date, always: tuple[str, ...] = ()) -> dict[str, Path]:
        """This step's files, {source: path}; the next calls go to the next step.

        The SIECLE folder holds an export of every establishment with new pupils this
        step, and of those in `always` (unchanged pupils: it moves the watermark).
        Every source gets a file, possibly with no row (the as-of still counts).
        """
        step_dir = self.folder / f"step{self.step}"
        siecle_dir = step_dir / "rectorat"
        siecle_dir.mkdir(parents=True)
        for uaj in sorted(self.touched | set(always)):
            elements = [
                eleve(x.eleve_id, ine=x.ine, nom=x.person.nom, prenom=x.person.prenom, naiss=fr(x.person.dob),
                      commune=x.commune, entree=fr(x.entree), sortie=fr(x.sortie) if x.sortie else "",
                      motif=x.motif)
                for x in self.pupils[uaj]
            ]
            (siecle_dir / f"{uaj}-{self.step}.xml").write_bytes(export(elements, uaj=uaj, date_export=fr(as_of)))
        paths = {"rectorat": siecle_dir}
        for source, header in (("mission-locale", ML_HEADER), ("cfa", CFA_HEADER), ("absenteisme", ABS_HEADER)):
            paths[source] = write_csv(step_dir / self._file(source), header, self.rows[source])
        cti = step_dir / self._file("cti")
        cti.write_text("".join(line + "\n" for line in self.rows["cti"]), encoding="utf-8")
        paths["cti"] = cti
        self.step += 1
        self.touched = set()
        self.rows = {k: [] for k in self.rows}
        return paths
