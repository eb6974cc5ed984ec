"""A seeded, deterministic demo data set: one Poitou-Charentes school year, 2025-2026.

    from hub.demo.generate import generate
    manifest = generate(Path("demo-data"), seed=2026, people=3000)

Same seed, same parameters → byte-identical files (one `random.Random(seed)`, no set or
hash ordering, no clock). Several thousand young people aged 14–26 at the end of the
year, across the five sources of inputs.md, against the sample directory
(`deploy/sample/annuaire-poitou-charentes.yaml`).

Files (relative to the output folder), in ingest order (`DemoManifest.steps`):

    siecle/2026-01-15/BEE_ELEVES_<UAJ>.xml   SIECLE snapshot 1  (DATE_EXPORT 15/01/2026)
    siecle/2026-04-15/BEE_ELEVES_<UAJ>.xml   SIECLE snapshot 2  (15/04/2026)
    siecle/2026-06-30/BEE_ELEVES_<UAJ>.xml   SIECLE snapshot 3  (30/06/2026)
    absenteisme/absenteisme-2025-09_2026-06.csv      --as-of 2026-06-30
    mission-locale/imilo-export-2026-06-30.csv        --as-of 2026-06-30
    cfa/contrats-apprentissage-2025-2026.csv          --as-of 2026-06-30
    cti/signalements-cti-2025-2026.jsonl              --as-of 2026-06-30

- **SIECLE**: one `BEE_ELEVES` export per Éducation nationale establishment of the
  directory (collèges, lycées, LP, EREA: MFR and CFA are not in SIECLE), ISO-8859-15,
  with elements the connector ignores (NOM_USAGE, PRENOM2, CODE_SEXE, CODE_MEF,
  CODE_REGIME, a STRUCTURES section). Three snapshots rather than two, so that the
  rectorat watermark reaches the end of the year *and* exits by disappearance have
  time to open cases: a pupil listed on 15/01 and missing on 15/04 without DATE_SORTIE
  is an `ELEVE_SORTI` dated 15/04 (reason 99), whose case opens on 15/05. A pupil who
  left with a DATE_SORTIE stays listed, with it, in the later snapshots (as real exports
  list the year's departures); a pupil who arrives mid-year appears in the next one.
  Pupils of the Charente EREA are exported by an older SIECLE version that writes
  `<NOM>` instead of `<NOM_DE_FAMILLE>`.
- **Absenteeism**: one row per pupil and month with unjustified half-days (09/2025 to
  06/2026), Windows-1252 with CRLF (a spreadsheet export), the INE sometimes missing or
  written in lower case with spaces.
- **I-MILO**: one regional extract, UTF-8 with BOM and CRLF, the INE usually empty
  (linked by name key), names as the counsellor typed them.
- **CFA / DECA**: contracts signed, broken off, CFA exits; ISO dates, names in capitals
  without accents, the INE often unknown (30–60 %), sometimes in the apprentice format.
- **CTI**: JSON Lines of the CTI État of the vocational lycées (REPERAGE, SUIVI,
  CLOTURE) and a few follow-up notes of the CTI Région of CFAs.

**The clock.** Every clock source ends on 30/06/2026: the last SIECLE snapshot is
exported that day and the other files are ingested with `--as-of 2026-06-30`; so the
hub's clock after the whole manifest is **2026-06-30** (`DemoManifest.clock`).
Everything below is designed against that date and the default rules (grace 30 days,
3-month L313-8 alert, rupture alert/closure at 150/180 days, absence thresholds 4×2 and
10).

**Scenarios** (one per young person; `DemoManifest.scenarios` counts them). The first
ones are guaranteed twice per département whatever the seed (`people ≥ 200`), the rest
are drawn with the weights of `_WEIGHTS`; expected results at the clock in brackets:

- `scolarise` — a pupil for the whole year, a few unjustified half-days at most [none].
  Collégiens are mostly 14 (or 15 after the rentrée): their records are `filtered`.
- `of_alerte` — a minor leaves school (DATE_SORTIE, reasons 05/09/06/01/02/99/empty)
  between 22/09 and 20/02, no solution [OBLIGATION_FORMATION, ALERTE: no interview
  within 3 months of the opening, D + 30].
- `of_ouvert` — the same from March on, or gone by disappearance at 15/04 [OF, OUVERT].
- `decrochage_ouvert` — an adult (18–21: bac pro, BTS) leaves [DECROCHAGE, OUVERT];
  some went to the Mission locale's first reception, or are `SANS_SOLUTION`/`INJOIGNABLE`
  there: not a solution.
- `sortie_juin` — leaves in June [nothing yet: the case would open in July].
- `exit_resolu` — leaves, then after the opening date returns to school (new SIECLE
  enrolment), signs an apprenticeship contract, enters a Mission locale accompaniment
  (CEJ, PACEA) or gets an I-MILO situation EMPLOI / FORMATION / SERVICE_CIVIQUE /
  SCOLARITE [DECROCHAGE or OF, RESOLU with that outcome]. The I-MILO and DECA records are
  mostly INE-less: they reach the case by name-key linking.
- `exit_rapide` — leaves and finds a solution within the 30-day grace: another school
  (reason 01), another school in another département after a move (02), a contract
  (03), a Mission locale accompaniment [no case].
- `sortie_sans_dossier` — reasons 07 (abroad), 08 (health), or 04 for an adult [none].
- `mineur_diplome` — a 17-year-old leaves with reason 04 [OF: the obligation covers
  every minor].
- `sortie_avant_16` — leaves at 15 (published: 15 or more) → OF on the 16th birthday;
  or at 14 (filtered: nothing) [OF OUVERT/ALERTE, or none].
- `prevention_absences` — ≥ 10 unjustified half-days in a month, or ≥ 4 in two
  consecutive months, at 16 or more [PREVENTION OUVERT; CTI_ETAT in an LP, the
  observatory elsewhere].
- `prevention_cti` — a CTI `REPERAGE` in an LP, then follow-up notes [PREVENTION OUVERT].
- `prevention_cloture` — the same, closed by a CTI `CLOTURE` [CLOS, CLOTURE_CTI].
- `prevention_sortie` — a prevention case, then the pupil leaves that establishment
  [PREVENTION CLOS/SORTIE, and the exit rule's case].
- `prevention_moins_16` — the same signals at 15 [none: no case under 16].
- `apprenti` — a contract signed, no event since [none].
- `rupture_ouvert` (rupture from 02/02), `rupture_alerte` (in January: D + 150 passed),
  `rupture_clos` (September–December: D + 180 passed, CLOS/SANS_SOLUTION and the exit
  rule's DECROCHAGE or OF at D + 180), `rupture_abandon` (then `SORTIE_CFA`:
  CLOS/ABANDON, and the exit case at once), `rupture_resolu` (a new contract or a
  Mission locale accompaniment: RESOLU) — a third of them within the first 45 days of
  the contract (`periode_essai`). In MFRs without CTI the counsellor is the Mission
  locale.
- `rupture_diplome` — contract ended early after the diploma [none].
- `sortie_cfa` — leaves the CFA without a rupture [exit rule: DECROCHAGE or OF; none at
  26].
- `jeune_ml` — followed by a Mission locale only [none].
- `move_exit` — an open exit case, then a first reception at a Mission locale of
  another département, with the new commune [the case moves: TRANSFERE on the old
  observatory's topic, OUVERT/ALERTE — or later RESOLU — at the new one].
- `move_rupture` — the same for an open rupture [RUPTURE TRANSFERE + OUVERT/ALERTE].
- `hors_territoire` (8 people) — living in Vendée, Haute-Vienne or Indre-et-Loire, in a
  CFA of that département (unknown to the directory): ruptures and a CFA exit
  [HORS_TERRITOIRE].
- `homonyme` (2 pairs) — two pupils with the same names and date of birth and two
  INEs; one leaves, and an INE-less I-MILO record with that name key enters an
  accompaniment [a *litige*: the record takes part in no case; the exit case stays
  open].
- About 2 % of pupils live just outside the region (border communes): their cases are
  routed by the establishment's commune.

**Invalid records** (`DemoManifest.invalid`, each a dead letter): SIECLE BAD_DATE,
BAD_COMMUNE (corrected in the next snapshot: the pupil is then enrolled), MISSING_FIELD,
a pupil listed twice (BAD_VALUE, duplicated ELEVE_ID) — once per snapshot listing them;
absenteeism BAD_UAI, BAD_VALUE (count, month, wrong number
of fields), MISSING_FIELD, FUTURE_DATE; I-MILO unknown `code_ml`, BAD_DATE,
MISSING_FIELD, BAD_VALUE, BAD_COMMUNE, FUTURE_DATE; CFA BAD_SIRET, BAD_UAI,
MISSING_FIELD, BAD_VALUE, BAD_DATE, FUTURE_DATE; CTI BAD_JSON, unknown CTI, BAD_VALUE,
MISSING_FIELD, BAD_DATE, FUTURE_DATE. Plus an invalid INE in SIECLE (dropped with a
warning: the pupil is then known by name key).

`hub/demo/preview.py` runs the real connectors (in memory) and the rule core over these
files and counts the cases; `tests/demo/test_generate.py` checks the mix.
"""

from __future__ import annotations

import json
import random
import shutil
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hub.demo import names
from hub.demo.manifest import MANIFEST_NAME, DemoManifest, IngestStep
from hub.directory import load_directory
from hub.identity import name_key
from hub.rules.age import age_at, birthday, last_day_of_month
from hub.validation import luhn_ok, uai_check_letter

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIRECTORY = REPO_ROOT / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"

RENTREE = date(2025, 9, 1)
SNAPSHOTS = (date(2026, 1, 15), date(2026, 4, 15), date(2026, 6, 30))
AS_OF = date(2026, 6, 30)  # the as-of of every last file, hence the hub's clock
SCHOOL_MONTHS = tuple((2025, m) for m in range(9, 13)) + tuple((2026, m) for m in range(1, 7))
MIN_PEOPLE = 200

SIECLE_TYPES = ("COLLEGE", "LYCEE", "LP", "EREA")
DEPARTEMENTS = ("16", "17", "79", "86")
# Random draws follow the départements' population (INSEE): 17 > 86 > 79 ≈ 16.
_DEP_WEIGHTS = {"16": 19, "17": 36, "79": 21, "86": 24}

# Outside the four départements: neighbouring communes (border pupils), and the
# HORS_TERRITOIRE apprentices' communes and CFAs (fictitious UAIs, unknown to the directory).
_BORDER = {"16": ("24322", "87085"), "17": ("33063", "85092"), "79": ("85092", "49099"), "86": ("37261", "36044")}
_OUTSIDE = (("85191", "085"), ("87085", "087"), ("37261", "037"))
_OUTSIDE_CFA = {"085": "0851346", "087": "0871207", "037": "0371099"}

# -- scenarios ------------------------------------------------------------------------

# Guaranteed in every département, twice, whatever the seed.
KEY_SCENARIOS = (
    "of_alerte",
    "of_ouvert",
    "decrochage_ouvert",
    "exit_resolu",
    "rupture_ouvert",
    "rupture_alerte",
    "rupture_clos",
    "rupture_abandon",
    "rupture_resolu",
    "prevention_absences",
    "prevention_cti",
    "prevention_cloture",
    "prevention_sortie",
    "move_exit",
    "move_rupture",
)
_PER_DEPARTEMENT = 2
_HORS_TERRITOIRE = 8
_HOMONYM_PAIRS = 2

_WEIGHTS = {
    "scolarise": 440,
    "of_alerte": 22,
    "of_ouvert": 16,
    "decrochage_ouvert": 30,
    "sortie_juin": 12,
    "exit_resolu": 50,
    "exit_rapide": 30,
    "sortie_sans_dossier": 15,
    "mineur_diplome": 5,
    "sortie_avant_16": 10,
    "prevention_absences": 30,
    "prevention_cti": 15,
    "prevention_cloture": 15,
    "prevention_sortie": 10,
    "prevention_moins_16": 8,
    "apprenti": 70,
    "rupture_ouvert": 14,
    "rupture_alerte": 6,
    "rupture_clos": 12,
    "rupture_abandon": 8,
    "rupture_resolu": 18,
    "rupture_diplome": 5,
    "sortie_cfa": 10,
    "jeune_ml": 100,
    "move_exit": 5,
    "move_rupture": 3,
}

MOTIFS_SANS_SOLUTION = {"05": 40, "09": 18, "06": 8, "": 10, "01": 12, "02": 7, "99": 5}


# -- records --------------------------------------------------------------------------


@dataclass(slots=True)
class Person:
    nom: str  # as in civil status: "Lefèvre", "D'Almeida", "Le Gall"
    prenom: str
    prenom2: str
    sexe: str  # SIECLE CODE_SEXE: 1 boy, 2 girl
    dob: date
    ine: str | None
    commune: str | None  # current residence
    dep: str
    serial: int = 0  # creation order: a stable key (never id(): objects are freed and ids reused)


@dataclass(frozen=True, slots=True)
class Etab:
    uai: str
    nom: str
    type: str
    commune: str
    cti: str | None
    dep: str


@dataclass(slots=True)
class Enrolment:
    etab: Etab
    eleve_id: str
    p: Person
    nom: str
    prenom: str
    ine: str  # as written in ID_NATIONAL ("" when unknown)
    commune: str
    entree: date
    sortie: date | None = None
    motif: str = ""
    vanish: date | None = None  # first snapshot the pupil is missing from (no DATE_SORTIE)
    # snapshot index → {ELEMENT: raw text} written instead (invalid records)
    overrides: dict[int, dict[str, str]] = field(default_factory=dict)
    duplicate: bool = False  # a second listing of an ELEVE_ID (rejected BAD_VALUE)
    division: str = ""
    elenoet: int = 0

    def listed(self, snapshot: date) -> bool:
        return self.entree <= snapshot and (self.vanish is None or snapshot < self.vanish)


@dataclass(slots=True)
class Row:
    """One line of a CSV or JSONL file, with the key it is sorted by."""

    sort: tuple
    text: str


# -- formatting -----------------------------------------------------------------------


def _fr(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


def _upper_plain(text: str) -> str:
    """Capitals without accents, as the contract registry writes names ("LEFEVRE")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _safe_date(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, 28) if month == 2 else day)


# -- the generator --------------------------------------------------------------------


class _Gen:
    def __init__(self, rng: random.Random, directory_path: Path) -> None:
        self.rng = rng
        data = load_directory(directory_path)
        # A directory may leave an observatory without départements (inputs.md §6 allows
        # it): its Missions locales then have no territory to generate people in.
        obs_dep = {o.code: o.departements[0] for o in data.observatoires if o.departements}
        self.mls: dict[str, list[tuple[str, list[str]]]] = {d: [] for d in DEPARTEMENTS}
        self.ml_of_commune: dict[str, str] = {}
        for ml in data.missions_locales:
            dep = obs_dep.get(ml.observatoire)
            if dep is None:
                continue
            self.mls.setdefault(dep, []).append((ml.code, list(ml.communes)))
            for c in ml.communes:
                self.ml_of_commune[c] = ml.code
        self.ml_communes = {code: communes for dep in self.mls.values() for code, communes in dep}
        self.etabs: dict[tuple[str, str], list[Etab]] = {}
        self.all_etabs: list[Etab] = []
        for e in data.etablissements:
            dep = e.commune[:2]
            etab = Etab(e.uai, e.nom, e.type, e.commune, e.cti, dep)
            self.etabs.setdefault((dep, e.type), []).append(etab)
            self.all_etabs.append(etab)
        self.outside_cfa = {
            dep: Etab(d + uai_check_letter(d), f"CFA hors région ({dep})", "CFA", "", None, dep)
            for dep, d in _OUTSIDE_CFA.items()
        }

        self.enrolments: list[Enrolment] = []
        self.absences: list[Row] = []
        self.ml_rows: list[Row] = []
        self.cfa_rows: list[Row] = []
        self.cti_rows: list[Row] = []
        self.invalid: Counter[str] = Counter()
        self.scenarios: Counter[str] = Counter()
        self.people = 0

        self._keys: set[str] = set()  # name keys in use (membership only, never iterated)
        self._ines: set[str] = set()
        self._eleve_id = 1_180_000 + rng.randrange(10_000)
        self._serial = 0
        self._milo: dict[tuple[int, str], str] = {}
        self._milo_next = 402_000 + rng.randrange(10_000)
        self._contract_seq = 0
        self._cti_seq: Counter[str] = Counter()
        self._employers: dict[str, list[str]] = {}

    # -- random helpers ---------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq: Sequence):
        return seq[self.rng.randrange(len(seq))]

    def weighted(self, weights: dict):
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def day(self, lo: date, hi: date, weekday: bool = True) -> date:
        """A random date in [lo, hi]; a weekday when there is one. `hi` when the range is
        empty: the upper bound is the one that matters (never after the as-of date)."""
        if hi <= lo:
            return hi
        span = (hi - lo).days
        for _ in range(8):
            d = lo + timedelta(days=self.rng.randint(0, span))
            if not weekday or d.weekday() < 5:
                return d
        return d

    def dob_for_age(self, at: date, lo: int, hi: int) -> date:
        """A date of birth giving an age in [lo, hi] at `at`."""
        first = _safe_date(at.year - hi - 1, at.month, at.day) + timedelta(days=1)
        last = _safe_date(at.year - lo, at.month, at.day)
        for _ in range(20):
            dob = self.day(first, last, weekday=False)
            if lo <= age_at(dob, at) <= hi:
                return dob
        return last

    # -- identities -------------------------------------------------------------------

    def new_ine(self, kind: str | None) -> str | None:
        if kind is None:
            return None
        r = self.rng
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        while True:
            if kind == "BEA":
                ine = f"{r.randrange(10**10):010d}{self.pick(letters)}"
            elif kind == "RNIE":
                ine = f"{r.randrange(10**9):09d}{self.pick(letters)}{self.pick(letters)}"
            else:  # apprentice: year + A + 5 digits + letter
                ine = f"{r.randint(2019, 2025)}A{r.randrange(10**5):05d}{self.pick(letters)}"
            if ine not in self._ines:
                self._ines.add(ine)
                return ine

    def ine_pupil(self) -> str | None:
        return self.new_ine(self.weighted({"BEA": 88, "RNIE": 8, None: 4}))

    def ine_apprentice(self) -> str | None:
        return self.new_ine(self.weighted({"APP": 55, "BEA": 15, None: 30}))

    def person(self, dep: str, dob: date, ine: str | None, commune: str | None, *, counted: bool = True) -> Person:
        """A new young person with a name key nobody else has."""
        if counted:
            self.people += 1
        for _ in range(100):
            girl = self.chance(0.48)
            prenom = self.pick(names.FIRST_NAMES_F if girl else names.FIRST_NAMES_M)
            nom = self.pick(names.FAMILY_NAMES)
            key = name_key(nom, prenom, dob)
            if key not in self._keys:
                break
        self._keys.add(name_key(nom, prenom, dob))
        second = self.pick(names.SECOND_NAMES_F if girl else names.SECOND_NAMES_M)
        self._serial += 1
        return Person(nom, prenom, second, "2" if girl else "1", dob, ine, commune, dep, self._serial)

    def residence(self, dep: str, near: str | None = None, border: float = 0.0) -> str:
        """A commune of `dep`: mostly in the Mission locale covering `near`."""
        if border and self.chance(border):
            return self.pick(_BORDER[dep])
        ml = self.ml_of_commune.get(near) if near else None
        if ml is None or self.chance(0.4):
            ml = self.pick(self.mls[dep])[0]
        communes = self.ml_communes[ml]
        return communes[0] if self.chance(0.35) else self.pick(communes)

    def other_dep(self, dep: str) -> str:
        return self.pick([d for d in DEPARTEMENTS if d != dep])

    # -- establishments ---------------------------------------------------------------

    def etab(self, dep: str, kind: str, exclude: str | None = None) -> Etab:
        """An establishment of that type in `dep` other than `exclude` (an LP when the
        only one of its type is excluded: each département has a single EREA)."""
        choices = [e for e in self.etabs[(dep, kind)] if e.uai != exclude]
        if not choices:
            choices = [e for e in self.etabs[(dep, "LP")] if e.uai != exclude]
        return self.pick(choices)

    def siecle_etab(self, dep: str, weights: dict[str, int], exclude: str | None = None) -> Etab:
        return self.etab(dep, self.weighted(weights), exclude)

    def apprentice_etab(self, dep: str) -> Etab:
        return self.etab(dep, self.weighted({"CFA": 82, "MFR": 18}))

    # -- SIECLE -----------------------------------------------------------------------

    def enrol(
        self,
        p: Person,
        etab: Etab,
        entree: date = RENTREE,
        sortie: date | None = None,
        motif: str = "",
        vanish: date | None = None,
    ) -> Enrolment:
        self._eleve_id += self.rng.randint(1, 9)
        ine = p.ine or ""
        enr = Enrolment(
            etab=etab,
            eleve_id=str(self._eleve_id),
            p=p,
            nom=p.nom.upper(),
            prenom=p.prenom,
            ine=ine,
            commune=p.commune or "",
            entree=entree,
            sortie=sortie,
            motif=motif,
            vanish=vanish,
            division=self._division(etab.type, p),
        )
        self.enrolments.append(enr)
        return enr

    def _division(self, kind: str, p: Person) -> str:
        """The pupil's class (SIECLE STRUCTURES), from the birth year."""
        year = p.dob.year
        n = self.pick("123456")
        if kind == "COLLEGE":
            return "3SEGPA" if year <= 2009 else "3" + self.pick("ABCDEF")
        if kind == "EREA":
            return self.pick(("1CAP", "2CAP")) + self.pick("12")
        if kind == "LP":
            if year >= 2010:
                return self.pick(("2NDPRO", "1CAP")) + n
            if year == 2009:
                return self.pick(("1EREPRO", "2CAP")) + n
            return self.pick(("TLEPRO", "TLEPRO", "MC")) + n
        if year >= 2010:
            return "2NDE" + n
        if year == 2009:
            return "1G" + n
        if year == 2008:
            return "TG" + n
        return "BTS" + self.pick(("MCO", "NDRC", "SIO", "CG")) + self.pick("12")

    # -- absenteeism ------------------------------------------------------------------

    def absence(self, p: Person, uai: str, month: tuple[int, int], unjustified: int, justified: int | None = None) -> None:
        if unjustified <= 0:
            return
        if justified is None:
            justified = self.rng.choice((0, 0, 0, 1, 2, 2, 3, 4, 6))
        ine = p.ine or ""
        if ine and self.chance(0.08):
            ine = ""  # the extract lacks it: linked by name key
        elif ine and self.chance(0.03):
            ine = f"{ine[:4]} {ine[4:8]} {ine[8:]}".lower()  # typed by hand: normalised
        y, m = month
        line = ";".join(
            (uai, ine, p.nom.upper(), p.prenom, _fr(p.dob), f"{y:04d}-{m:02d}", str(unjustified), str(justified))
        )
        self.absences.append(Row((y, m, uai, p.nom.upper(), p.prenom), line))

    def low_absences(self, p: Person, uai: str, first: date = RENTREE, last: date = AS_OF) -> None:
        """Ordinary absenteeism: never ≥ 4 two months running, never ≥ 10."""
        prone = self.chance(0.3)
        previous_high = False
        for y, m in SCHOOL_MONTHS:
            if date(y, m, 1) < date(first.year, first.month, 1) or date(y, m, 1) > last:
                continue
            if prone and not previous_high and self.chance(0.12):
                self.absence(p, uai, (y, m), self.rng.randint(4, 7))
                previous_high = True
                continue
            previous_high = False
            if self.chance(0.35 if prone else 0.05):
                self.absence(p, uai, (y, m), self.rng.randint(1, 3))

    # -- Mission locale ---------------------------------------------------------------

    def ml(
        self,
        p: Person,
        code_ml: str,
        evenement: str,
        day: date,
        dispositif: str = "",
        situation: str = "",
        ine_share: float = 0.15,
    ) -> None:
        key = (p.serial, code_ml)
        milo = self._milo.get(key)
        if milo is None:
            self._milo_next += self.rng.randint(1, 40)
            milo = self._milo[key] = str(self._milo_next)
        ine = p.ine if p.ine and self.rng.random() < ine_share else ""
        # As typed by the counsellor: mostly as in civil status, sometimes in capitals
        # or with a hyphen dropped — the same name key either way.
        nom = p.nom.upper() if self.chance(0.25) else p.nom
        prenom = p.prenom.replace("-", " ") if self.chance(0.3) else p.prenom
        line = ";".join(
            (code_ml, milo, ine, nom, prenom, _fr(p.dob), p.commune or "", evenement, _fr(day), dispositif, situation)
        )
        self.ml_rows.append(Row((day, code_ml, milo, evenement), line))

    def ml_of(self, p: Person) -> str:
        if p.commune and p.commune in self.ml_of_commune:
            return self.ml_of_commune[p.commune]
        return self.pick(self.mls[p.dep])[0]

    # -- CFA --------------------------------------------------------------------------

    def siret(self, cfa: str) -> str:
        pool = self._employers.get(cfa)
        if pool is None:
            pool = self._employers[cfa] = [_luhn_complete(f"{self.rng.randrange(10**13):013d}") for _ in range(25)]
        return self.pick(pool)

    def contract_number(self, cfa: Etab, signed: date) -> str:
        self._contract_seq += self.rng.randint(1, 30)
        return f"{cfa.uai[1:3]:0>3}{signed.year:04d}{signed.month:02d}{self._contract_seq:05d}"

    def cfa_row(
        self,
        p: Person,
        cfa: Etab,
        evenement: str,
        day: date,
        *,
        numero: str = "",
        siret: str = "",
        start: date | None = None,
        cause: str = "",
        ine: str | None = None,
        rqth: str = "",
    ) -> None:
        ine_text = ine if ine is not None else (p.ine or "")
        nom = _upper_plain(p.nom)
        prenom = _upper_plain(p.prenom)
        if self.chance(0.2):
            prenom = prenom.replace("-", " ")
        commune = (p.commune or "") if self.chance(0.9) else ""  # the registry does not always have it
        line = ";".join(
            (
                numero,
                cfa.uai,
                siret,
                ine_text,
                nom,
                prenom,
                p.dob.isoformat(),
                commune,
                rqth,
                evenement,
                day.isoformat(),
                start.isoformat() if start else "",
                cause,
            )
        )
        self.cfa_rows.append(Row((day, evenement, cfa.uai, numero or nom), line))

    def sign(self, p: Person, cfa: Etab, signed: date, start: date | None = None, ine: str | None = None) -> tuple[str, str, date]:
        """A CONTRAT_SIGNE row; returns (numero, siret, start)."""
        numero = self.contract_number(cfa, signed)
        siret = self.siret(cfa.uai)
        start = start or signed + timedelta(days=self.rng.randint(0, 21))
        rqth = "O" if self.chance(0.04) else self.weighted({"N": 60, "": 40})
        self.cfa_row(p, cfa, "CONTRAT_SIGNE", signed, numero=numero, siret=siret, start=start, ine=ine, rqth=rqth)
        return numero, siret, start

    # -- CTI --------------------------------------------------------------------------

    def cti(self, p: Person, etab: Etab, kind: str, day: date, motif: str, with_ine: float = 0.7) -> None:
        code = etab.cti
        assert code is not None
        self._cti_seq[code] += self.rng.randint(1, 5)
        reference = f"fiche-{day.year}-{self._cti_seq[code]:04d}"
        jeune = {
            "ine": p.ine if p.ine and self.chance(with_ine) else None,
            "nom": p.nom.upper() if self.chance(0.5) else p.nom,
            "prenom": p.prenom,
            "date_naissance": p.dob.isoformat(),
            "commune_residence": p.commune,
        }
        report = {"cti": code, "uai": etab.uai, "type": kind, "date": day.isoformat(), "reference": reference,
                  "motif": motif, "jeune": jeune}
        self.cti_rows.append(Row((day, code, reference), json.dumps(report, ensure_ascii=False)))


def _luhn_complete(prefix13: str) -> str:
    for last in "0123456789":
        candidate = prefix13 + last
        if luhn_ok(candidate):
            return candidate
    raise AssertionError("unreachable")


def _prev_month(y: int, m: int) -> tuple[int, int]:
    return (y - 1, 12) if m == 1 else (y, m - 1)


# -- scenarios ------------------------------------------------------------------------

# Birth years by establishment type, 2025-2026 (2nde = born 2010; 3e = 2011): the cohort,
# a year behind, a few older (BTS sections in lycées, bac pro after a CAP).
_BIRTH_YEARS = {
    "COLLEGE": {2011: 65, 2010: 30, 2009: 5},
    "LYCEE": {2010: 30, 2009: 30, 2008: 27, 2007: 9, 2006: 4},
    "LP": {2010: 25, 2009: 30, 2008: 25, 2007: 15, 2006: 5},
    "EREA": {2010: 35, 2009: 35, 2008: 30},
}


def _pupil(g: _Gen, dep: str, etab: Etab, dob: date, border: float = 0.0) -> Person:
    return g.person(dep, dob, g.ine_pupil(), g.residence(dep, etab.commune, border))


def sc_scolarise(g: _Gen, dep: str) -> None:
    kind = g.weighted({"COLLEGE": 25, "LYCEE": 42, "LP": 28, "EREA": 5})
    etab = g.etab(dep, kind)
    year = g.weighted(_BIRTH_YEARS[kind])
    p = _pupil(g, dep, etab, g.day(date(year, 1, 1), date(year, 12, 31), weekday=False), border=0.02)
    entree = RENTREE if g.chance(0.95) else g.day(date(2025, 9, 15), date(2026, 3, 31))
    g.enrol(p, etab, entree)
    g.low_absences(p, etab.uai, entree)


def _exit(
    g: _Gen,
    dep: str,
    lo: date,
    hi: date,
    ages: tuple[int, int],
    *,
    vanish: float = 0.0,
    vanish_at: date = SNAPSHOTS[1],
    motifs: dict[str, int] = MOTIFS_SANS_SOLUTION,
    kinds: dict[str, int] | None = None,
    ml_contact: float = 0.0,
) -> tuple[Person, Etab, date]:
    """A pupil who leaves between lo and hi (or vanishes from a snapshot), aged `ages` at
    the opening date (exit + 30 days). Returns (person, establishment, exit date)."""
    if g.chance(vanish):
        day = vanish_at
    else:
        day = g.day(lo, hi)
    opening = day + timedelta(days=30)
    adult = ages[0] >= 18
    if kinds is None:
        kinds = {"LP": 50, "LYCEE": 50} if adult else {"LP": 55, "LYCEE": 30, "EREA": 10, "COLLEGE": 5}
    etab = g.siecle_etab(dep, kinds)
    p = _pupil(g, dep, etab, g.dob_for_age(opening, *ages), border=0.02)
    if day == vanish_at and vanish:
        previous = SNAPSHOTS[SNAPSHOTS.index(vanish_at) - 1]
        entree = RENTREE if g.chance(0.9) else g.day(date(2025, 9, 8), previous)
        g.enrol(p, etab, entree, vanish=vanish_at)
    else:
        late = day - timedelta(days=20)
        entree = RENTREE if late <= date(2025, 9, 8) or g.chance(0.92) else g.day(date(2025, 9, 8), late)
        g.enrol(p, etab, entree, sortie=day, motif=g.weighted(motifs))
    g.low_absences(p, etab.uai, entree, day)
    if ml_contact and p.commune in g.ml_of_commune and g.chance(ml_contact):
        code = g.ml_of(p)
        first = g.day(day + timedelta(days=5), min(day + timedelta(days=90), AS_OF))
        g.ml(p, code, "PREMIER_ACCUEIL", first)
        if g.chance(0.4):
            later = g.day(first + timedelta(days=1), min(first + timedelta(days=60), AS_OF))
            g.ml(p, code, "SITUATION", later, situation=g.weighted({"SANS_SOLUTION": 70, "INJOIGNABLE": 30}))
    return p, etab, day


def sc_of_alerte(g: _Gen, dep: str) -> None:
    _exit(g, dep, date(2025, 9, 22), date(2026, 2, 20), (16, 17), ml_contact=0.15)


def sc_of_ouvert(g: _Gen, dep: str) -> None:
    _exit(g, dep, date(2026, 3, 2), date(2026, 5, 22), (16, 17), vanish=0.35, ml_contact=0.1)


def sc_decrochage_ouvert(g: _Gen, dep: str) -> None:
    _exit(g, dep, date(2025, 9, 22), date(2026, 5, 22), (18, 21), vanish=0.2, ml_contact=0.4)


def sc_sortie_juin(g: _Gen, dep: str) -> None:
    ages = (16, 17) if g.chance(0.5) else (18, 20)
    _exit(g, dep, date(2026, 6, 1), date(2026, 6, 26), ages, vanish=0.3, vanish_at=SNAPSHOTS[2])


def _solution(g: _Gen, p: Person, dep: str, left: Etab, day: date, kind: str) -> None:
    """A solution dated `day` of the given kind."""
    if kind == "retour":
        etab = g.siecle_etab(dep, {"LP": 60, "LYCEE": 30, "EREA": 10}, exclude=left.uai)
        g.enrol(p, etab, day)
    elif kind == "apprentissage":
        cfa = g.apprentice_etab(dep)
        g.sign(p, cfa, day, ine=p.ine if g.chance(0.4) else "")
    elif kind == "accompagnement":
        code = g.ml_of(p)
        first = g.day(day - timedelta(days=20), day)
        if first < day:
            g.ml(p, code, "PREMIER_ACCUEIL", first)
        g.ml(p, code, "ENTREE_ACCOMPAGNEMENT", day, dispositif=g.weighted({"CEJ": 65, "PACEA": 30, "AUTRE": 5}))
    else:  # an I-MILO situation
        code = g.ml_of(p)
        g.ml(p, code, "PREMIER_ACCUEIL", g.day(day - timedelta(days=30), day - timedelta(days=5)))
        situation = g.weighted({"EMPLOI": 40, "FORMATION": 30, "SERVICE_CIVIQUE": 20, "SCOLARITE": 10})
        g.ml(p, code, "SITUATION", day, situation=situation)


def sc_exit_resolu(g: _Gen, dep: str) -> None:
    ages = (16, 17) if g.chance(0.45) else (18, 21)
    p, etab, day = _exit(g, dep, date(2025, 9, 22), date(2026, 4, 24), ages)
    opening = day + timedelta(days=30)
    solved = g.day(opening + timedelta(days=1), min(opening + timedelta(days=80), date(2026, 6, 26)))
    kinds = {"retour": 30, "apprentissage": 25, "accompagnement": 30, "situation": 15}
    if p.commune not in g.ml_of_commune:  # border pupil: no Mission locale of ours
        kinds = {"retour": 50, "apprentissage": 50}
    _solution(g, p, dep, etab, solved, g.weighted(kinds))


def sc_exit_rapide(g: _Gen, dep: str) -> None:
    kind = g.weighted({"changement": 35, "demenagement": 20, "apprentissage": 25, "accompagnement": 20})
    motif = {"changement": "01", "demenagement": "02", "apprentissage": "03"}.get(kind) or g.pick(("05", "09"))
    day = g.day(date(2025, 9, 15), date(2026, 6, 5))
    etab = g.siecle_etab(dep, {"LP": 50, "LYCEE": 40, "EREA": 10})
    p = _pupil(g, dep, etab, g.dob_for_age(day, 16, 19))
    g.enrol(p, etab, RENTREE, sortie=day, motif=motif)
    g.low_absences(p, etab.uai, RENTREE, day)
    solved = g.day(day, day + timedelta(days=25))
    if kind == "demenagement":  # a move between départements, and a new school there
        new_dep = g.other_dep(dep)
        new = g.siecle_etab(new_dep, {"LP": 50, "LYCEE": 50})
        p.commune = g.residence(new_dep, new.commune)
        p.dep = new_dep
        g.enrol(p, new, solved)
    elif kind == "accompagnement" and p.commune not in g.ml_of_commune:
        g.enrol(p, g.siecle_etab(dep, {"LP": 100}, exclude=etab.uai), solved)
    else:
        _solution(g, p, dep, etab, solved, {"changement": "retour"}.get(kind, kind))


def sc_sortie_sans_dossier(g: _Gen, dep: str) -> None:
    motif = g.weighted({"07": 50, "08": 25, "04": 25})
    ages = (18, 20) if motif == "04" else (16, 19)
    _exit(g, dep, date(2025, 9, 22), date(2026, 5, 29), ages, motifs={motif: 1})


def sc_mineur_diplome(g: _Gen, dep: str) -> None:
    _exit(g, dep, date(2025, 10, 1), date(2026, 5, 15), (17, 17), motifs={"04": 1}, kinds={"LP": 80, "LYCEE": 20})


def sc_sortie_avant_16(g: _Gen, dep: str) -> None:
    etab = g.siecle_etab(dep, {"COLLEGE": 50, "LP": 30, "EREA": 20})
    day = g.day(date(2025, 10, 1), date(2026, 2, 27))
    if g.chance(0.7):  # at 15: published; the case opens on the 16th birthday
        b16 = g.day(max(day + timedelta(days=31), date(2026, 3, 1)), date(2026, 6, 25), weekday=False)
        dob = _safe_date(b16.year - 16, b16.month, b16.day)
    else:  # at 14: filtered, nothing reaches the hub
        dob = g.dob_for_age(day, 14, 14)
        if age_at(dob, AS_OF) >= 15:
            dob = _safe_date(AS_OF.year - 15, AS_OF.month, AS_OF.day) + timedelta(days=g.rng.randint(1, 150))
    p = _pupil(g, dep, etab, dob)
    g.enrol(p, etab, RENTREE, sortie=day, motif=g.weighted({"05": 50, "": 30, "06": 20}))


def _prevention_signal(
    g: _Gen, p: Person, etab: Etab, month: tuple[int, int], *, cti: bool
) -> date:
    """Open a prevention signal in `month` (absences, or a CTI REPERAGE when `cti`).
    Returns the opening date."""
    y, m = month
    if cti:
        day = g.day(date(y, m, 1), min(last_day_of_month(y, m), AS_OF))
        g.cti(p, etab, "REPERAGE", day, g.pick(names.CTI_MOTIFS_REPERAGE))
        return day
    if g.chance(0.5):
        g.absence(p, etab.uai, month, g.rng.randint(10, 20))
    else:
        g.absence(p, etab.uai, _prev_month(y, m), g.rng.randint(4, 9))
        g.absence(p, etab.uai, month, g.rng.randint(4, 9))
    return last_day_of_month(y, m)


def _calm_before(g: _Gen, p: Person, etab: Etab, month: tuple[int, int], two: bool) -> None:
    """Ordinary absences before the signal (nothing that would trigger earlier)."""
    stop = _prev_month(*month) if two else month
    for ym in SCHOOL_MONTHS:
        if ym >= _prev_month(*stop):
            break
        if g.chance(0.3):
            g.absence(p, etab.uai, ym, g.rng.randint(1, 3))


def _prevention_pupil(g: _Gen, dep: str, kinds: dict[str, int], month: tuple[int, int]) -> tuple[Person, Etab]:
    """A pupil aged 16 or more from the first day of `month` (16 in a collège, up to 19
    elsewhere), so that a CTI report on any day of the month finds them 16."""
    etab = g.siecle_etab(dep, kinds)
    ages = (16, 16) if etab.type == "COLLEGE" else (16, 19)
    p = _pupil(g, dep, etab, g.dob_for_age(date(*month, 1), *ages))
    return p, etab


def _signal_month(g: _Gen, lo: tuple[int, int], hi: tuple[int, int]) -> tuple[int, int]:
    return g.pick([ym for ym in SCHOOL_MONTHS if lo <= ym <= hi])


def sc_prevention_absences(g: _Gen, dep: str) -> None:
    month = _signal_month(g, (2025, 10), (2026, 6))
    p, etab = _prevention_pupil(g, dep, {"LP": 50, "LYCEE": 40, "COLLEGE": 10}, month)
    g.enrol(p, etab)
    _calm_before(g, p, etab, month, True)
    opened = _prevention_signal(g, p, etab, month, cti=False)
    for ym in SCHOOL_MONTHS:  # absences go on: they attach to the open case
        if ym > month and g.chance(0.6):
            g.absence(p, etab.uai, ym, g.rng.randint(1, 8))
    if etab.cti and g.chance(0.4):
        day = g.day(opened + timedelta(days=3), min(opened + timedelta(days=40), AS_OF))
        if day > opened:
            g.cti(p, etab, "SUIVI", day, g.pick(names.CTI_MOTIFS_SUIVI))


def sc_prevention_cti(g: _Gen, dep: str) -> None:
    month = _signal_month(g, (2025, 10), (2026, 6))
    p, etab = _prevention_pupil(g, dep, {"LP": 1}, month)
    g.enrol(p, etab)
    g.low_absences(p, etab.uai)
    opened = _prevention_signal(g, p, etab, month, cti=True)
    for _ in range(g.rng.randint(0, 3)):
        day = g.day(opened + timedelta(days=5), min(opened + timedelta(days=70), AS_OF))
        if day > opened:
            g.cti(p, etab, "SUIVI", day, g.pick(names.CTI_MOTIFS_SUIVI))


def sc_prevention_cloture(g: _Gen, dep: str) -> None:
    month = _signal_month(g, (2025, 10), (2026, 5))
    p, etab = _prevention_pupil(g, dep, {"LP": 1}, month)
    g.enrol(p, etab)
    by_cti = g.chance(0.5)
    if by_cti:
        g.low_absences(p, etab.uai, RENTREE, date(2026, 6, 30))
    else:
        _calm_before(g, p, etab, month, True)
    opened = _prevention_signal(g, p, etab, month, cti=by_cti)
    closed = g.day(opened + timedelta(days=20), min(opened + timedelta(days=80), AS_OF))
    if g.chance(0.5):
        g.cti(p, etab, "SUIVI", g.day(opened + timedelta(days=1), closed - timedelta(days=1)),
              g.pick(names.CTI_MOTIFS_SUIVI))
    g.cti(p, etab, "CLOTURE", closed, g.pick(names.CTI_MOTIFS_CLOTURE))
    if not by_cti:  # after the closure: ordinary absences only
        for ym in SCHOOL_MONTHS:
            if date(*ym, 1) > closed and g.chance(0.3):
                g.absence(p, etab.uai, ym, g.rng.randint(1, 3))


def sc_prevention_sortie(g: _Gen, dep: str) -> None:
    month = _signal_month(g, (2025, 10), (2026, 4))
    p, etab = _prevention_pupil(g, dep, {"LP": 65, "LYCEE": 35}, month)
    by_cti = etab.cti is not None and g.chance(0.5)
    if not by_cti:
        _calm_before(g, p, etab, month, True)
    opened = _prevention_signal(g, p, etab, month, cti=by_cti)
    left = g.day(opened + timedelta(days=10), min(opened + timedelta(days=100), date(2026, 6, 15)))
    g.enrol(p, etab, RENTREE, sortie=left, motif=g.weighted({"05": 60, "09": 20, "06": 20}))
    if by_cti:
        g.low_absences(p, etab.uai, RENTREE, left)


def sc_prevention_moins_16(g: _Gen, dep: str) -> None:
    month = _signal_month(g, (2026, 1), (2026, 6))
    etab = g.siecle_etab(dep, {"LP": 60, "COLLEGE": 40})
    last = last_day_of_month(*month)
    # 15 at the signal and still 15 at the clock: born between 01/07/2010 and `last` − 15 years.
    dob = g.day(date(2010, 7, 1), _safe_date(last.year - 15, last.month, last.day), weekday=False)
    p = _pupil(g, dep, etab, dob)
    g.enrol(p, etab)
    by_cti = etab.cti is not None and g.chance(0.5)
    if not by_cti:
        _calm_before(g, p, etab, month, False)
    _prevention_signal(g, p, etab, month, cti=by_cti)


# -- apprentices ----------------------------------------------------------------------


def _apprentice(g: _Gen, dep: str, at: date, ages: tuple[int, int], cfa: Etab | None = None) -> tuple[Person, Etab]:
    cfa = cfa or g.apprentice_etab(dep)
    commune = g.residence(dep, cfa.commune) if cfa.commune else None
    p = g.person(dep, g.dob_for_age(at, *ages), g.ine_apprentice(), commune)
    return p, cfa


def sc_apprenti(g: _Gen, dep: str) -> None:
    p, cfa = _apprentice(g, dep, AS_OF, (16, 24))
    signed = g.day(max(date(2024, 7, 1), _earliest_contract(p)), date(2026, 3, 31))
    g.sign(p, cfa, signed)


_CAUSES = {"ACCORD_COMMUN": 35, "DEMISSION_APPRENTI": 25, "LICENCIEMENT": 15, "LIQUIDATION": 5, "": 20}


def _earliest_contract(p: Person) -> date:
    """Apprenticeship starts at 15 at the earliest (after the 3e): the day after the 15th birthday."""
    return birthday(p.dob, 15) + timedelta(days=1)


def _rupture(g: _Gen, p: Person, cfa: Etab, day: date) -> tuple[str, date]:
    """A contract and its rupture on `day`; a third within the first 45 days."""
    earliest = _earliest_contract(p) + timedelta(days=21)
    if g.chance(0.33) or day - timedelta(days=46) < earliest:
        start = day - timedelta(days=g.rng.randint(7, 44))
    else:
        start = max(day - timedelta(days=g.rng.randint(46, 600)), earliest)
    start = max(start, min(earliest, day - timedelta(days=7)))
    if (day - start).days < 45:
        cause = "PERIODE_ESSAI" if g.chance(0.7) else ""
    else:
        cause = g.weighted(_CAUSES)
    signed = max(start - timedelta(days=g.rng.randint(0, 21)), min(_earliest_contract(p), start))
    numero, siret, start = g.sign(p, cfa, signed, start)
    g.cfa_row(p, cfa, "CONTRAT_ROMPU", day, numero=numero, siret=siret if g.chance(0.8) else "", start=start,
              cause=cause)
    if cfa.cti and g.chance(0.3):
        note = g.day(day + timedelta(days=3), min(day + timedelta(days=60), AS_OF))
        if note > day:
            g.cti(p, cfa, "SUIVI", note, g.pick(names.CTI_MOTIFS_REGION))
    return numero, start


def _rupture_person(g: _Gen, dep: str, lo: date, hi: date, minors: float = 0.3) -> tuple[Person, Etab, date]:
    day = g.day(lo, hi)
    ages = (16, 17) if g.chance(minors) else (18, 24)
    p, cfa = _apprentice(g, dep, day, ages)
    return p, cfa, day


def sc_rupture_ouvert(g: _Gen, dep: str) -> None:
    p, cfa, day = _rupture_person(g, dep, date(2026, 2, 2), date(2026, 6, 24))
    _rupture(g, p, cfa, day)


def sc_rupture_alerte(g: _Gen, dep: str) -> None:
    p, cfa, day = _rupture_person(g, dep, date(2026, 1, 2), date(2026, 1, 30))
    _rupture(g, p, cfa, day)


def sc_rupture_clos(g: _Gen, dep: str) -> None:
    p, cfa, day = _rupture_person(g, dep, date(2025, 9, 1), date(2025, 12, 30))
    _rupture(g, p, cfa, day)


def sc_rupture_abandon(g: _Gen, dep: str) -> None:
    p, cfa, day = _rupture_person(g, dep, date(2025, 10, 1), date(2026, 5, 15))
    numero, _ = _rupture(g, p, cfa, day)
    left = g.day(day + timedelta(days=14), min(day + timedelta(days=150), date(2026, 6, 26)))
    g.cfa_row(p, cfa, "SORTIE_CFA", left, numero=numero if g.chance(0.5) else "")


def sc_rupture_resolu(g: _Gen, dep: str) -> None:
    p, cfa, day = _rupture_person(g, dep, date(2025, 9, 15), date(2026, 5, 29))
    _rupture(g, p, cfa, day)
    solved = g.day(day + timedelta(days=7), min(day + timedelta(days=120), date(2026, 6, 26)))
    if g.chance(0.75) or p.commune not in g.ml_of_commune:
        other = g.apprentice_etab(dep) if g.chance(0.3) else cfa
        g.sign(p, other, solved)
    else:
        g.ml(p, g.ml_of(p), "ENTREE_ACCOMPAGNEMENT", solved, dispositif=g.weighted({"CEJ": 80, "PACEA": 20}))


def sc_rupture_diplome(g: _Gen, dep: str) -> None:
    day = g.day(date(2025, 9, 1), date(2026, 6, 26))
    p, cfa = _apprentice(g, dep, day, (18, 22))
    start = day - timedelta(days=g.rng.randint(300, 700))
    numero, siret, start = g.sign(p, cfa, start - timedelta(days=g.rng.randint(0, 14)), start)
    g.cfa_row(p, cfa, "CONTRAT_ROMPU", day, numero=numero, siret=siret, start=start, cause="OBTENTION_DIPLOME")


def sc_sortie_cfa(g: _Gen, dep: str) -> None:
    day = g.day(date(2025, 10, 1), date(2026, 5, 22))
    ages = (26, 26) if g.chance(0.08) else (17, 24)
    p, cfa = _apprentice(g, dep, day + timedelta(days=30), ages)
    numero, _, _ = g.sign(p, cfa, g.day(max(date(2024, 7, 1), _earliest_contract(p)), date(2025, 9, 15)))
    g.cfa_row(p, cfa, "SORTIE_CFA", day, numero=numero if g.chance(0.6) else "")


def sc_jeune_ml(g: _Gen, dep: str) -> None:
    ages = (26, 26) if g.chance(0.03) else (16, 25)
    commune = g.residence(dep)
    ine = g.new_ine(g.weighted({"BEA": 10, "RNIE": 5, None: 85}))
    p = g.person(dep, g.dob_for_age(AS_OF, *ages), ine, commune)
    code = g.ml_of(p)
    first = g.day(date(2025, 7, 1), date(2026, 6, 15))
    g.ml(p, code, "PREMIER_ACCUEIL", first, ine_share=0.8)
    day = first
    if g.chance(0.6):
        day = g.day(first, min(first + timedelta(days=40), AS_OF))
        g.ml(p, code, "ENTREE_ACCOMPAGNEMENT", day, dispositif=g.weighted({"CEJ": 60, "PACEA": 30, "AUTRE": 10}),
             ine_share=0.8)
        if g.chance(0.5):
            day = g.day(day + timedelta(days=1), min(day + timedelta(days=120), AS_OF))
            g.ml(p, code, "SITUATION", day, situation=g.weighted(
                {"EMPLOI": 30, "FORMATION": 30, "APPRENTISSAGE": 10, "SERVICE_CIVIQUE": 10, "SANS_SOLUTION": 20}),
                ine_share=0.8)
        if g.chance(0.25):
            day = g.day(day + timedelta(days=1), min(day + timedelta(days=90), AS_OF))
            g.ml(p, code, "SORTIE_ACCOMPAGNEMENT", day, ine_share=0.8)
    elif g.chance(0.5):
        day = g.day(first + timedelta(days=1), min(first + timedelta(days=60), AS_OF))
        g.ml(p, code, "SITUATION", day, situation=g.weighted({"SANS_SOLUTION": 50, "INJOIGNABLE": 50}),
             ine_share=0.8)


def _move(g: _Gen, p: Person, after: date, resolve: float) -> None:
    """A first reception at a Mission locale of another département, with the new commune,
    after `after` (the case's opening); sometimes an accompaniment there later."""
    new_dep = g.other_dep(p.dep)
    code, communes = g.pick(g.mls[new_dep])
    p.commune = communes[0] if g.chance(0.4) else g.pick(communes)
    p.dep = new_dep
    day = g.day(after + timedelta(days=3), min(after + timedelta(days=60), date(2026, 6, 20)))
    g.ml(p, code, "PREMIER_ACCUEIL", day, ine_share=0.3)
    if g.chance(resolve):
        later = g.day(day + timedelta(days=5), min(day + timedelta(days=45), date(2026, 6, 29)))
        g.ml(p, code, "ENTREE_ACCOMPAGNEMENT", later, dispositif="CEJ", ine_share=0.3)


def sc_move_exit(g: _Gen, dep: str) -> None:
    ages = (16, 17) if g.chance(0.5) else (18, 21)
    p, _, day = _exit(g, dep, date(2025, 10, 1), date(2026, 4, 10), ages, motifs={"05": 60, "09": 20, "02": 20})
    if p.commune not in g.ml_of_commune:  # a border pupil: move them from their school's side
        p.commune = g.residence(dep)
    _move(g, p, day + timedelta(days=30), resolve=0.3)


def sc_move_rupture(g: _Gen, dep: str) -> None:
    p, cfa, day = _rupture_person(g, dep, date(2026, 1, 5), date(2026, 5, 10), minors=0.2)
    _rupture(g, p, cfa, day)
    _move(g, p, day, resolve=0.0)


_HORS_VARIANTS = ("ouvert", "alerte", "clos", "abandon", "ouvert", "sortie_cfa", "resolu", "ouvert")


def sc_hors_territoire(g: _Gen, n: int) -> None:
    commune, dep = _OUTSIDE[n % len(_OUTSIDE)]
    cfa = g.outside_cfa[dep]
    variant = _HORS_VARIANTS[n % len(_HORS_VARIANTS)]
    windows = {
        "ouvert": (date(2026, 2, 2), date(2026, 6, 20)),
        "alerte": (date(2026, 1, 2), date(2026, 1, 30)),
        "clos": (date(2025, 9, 1), date(2025, 12, 20)),
        "abandon": (date(2025, 11, 1), date(2026, 3, 31)),
        "resolu": (date(2025, 10, 1), date(2026, 4, 30)),
        "sortie_cfa": (date(2025, 10, 1), date(2026, 4, 30)),
    }
    day = g.day(*windows[variant])
    p = g.person(dep, g.dob_for_age(day, 17, 23), g.ine_apprentice(), commune)
    if variant == "sortie_cfa":
        numero, _, _ = g.sign(p, cfa, g.day(date(2024, 8, 1), date(2025, 9, 1)))
        g.cfa_row(p, cfa, "SORTIE_CFA", day, numero=numero)
        return
    numero, _ = _rupture(g, p, cfa, day)
    if variant == "abandon":
        g.cfa_row(p, cfa, "SORTIE_CFA", g.day(day + timedelta(days=20), day + timedelta(days=90)), numero=numero)
    elif variant == "resolu":
        g.sign(p, cfa, g.day(day + timedelta(days=10), day + timedelta(days=60)))


def sc_homonymes(g: _Gen, n: int) -> None:
    """Two pupils, same names and date of birth, two INEs; one leaves, and an INE-less
    I-MILO record with their name key is in dispute (litige)."""
    dep_a, dep_b = (("86", "17"), ("79", "16"))[n % 2]
    left = date(2025, 11, 17) + timedelta(days=21 * n)
    dob = g.dob_for_age(left + timedelta(days=30), 18, 19)
    etab_a = g.etab(dep_a, "LP")
    etab_b = g.etab(dep_b, "LYCEE")
    a = g.person(dep_a, dob, g.new_ine("BEA"), g.residence(dep_a, etab_a.commune))
    g._serial += 1
    b = Person(a.nom, a.prenom, "", a.sexe, dob, g.new_ine("BEA"), g.residence(dep_b, etab_b.commune), dep_b,
               g._serial)
    g.people += 1
    g.enrol(a, etab_a, RENTREE, sortie=left, motif="05")
    g.enrol(b, etab_b, RENTREE)
    g.low_absences(b, etab_b.uai)
    code = g.ml_of(a)
    g.ml(a, code, "PREMIER_ACCUEIL", left + timedelta(days=40), ine_share=0.0)
    g.ml(a, code, "ENTREE_ACCOMPAGNEMENT", left + timedelta(days=47), dispositif="CEJ", ine_share=0.0)


SCENARIOS: dict[str, Callable[[_Gen, str], None]] = {
    "scolarise": sc_scolarise,
    "of_alerte": sc_of_alerte,
    "of_ouvert": sc_of_ouvert,
    "decrochage_ouvert": sc_decrochage_ouvert,
    "sortie_juin": sc_sortie_juin,
    "exit_resolu": sc_exit_resolu,
    "exit_rapide": sc_exit_rapide,
    "sortie_sans_dossier": sc_sortie_sans_dossier,
    "mineur_diplome": sc_mineur_diplome,
    "sortie_avant_16": sc_sortie_avant_16,
    "prevention_absences": sc_prevention_absences,
    "prevention_cti": sc_prevention_cti,
    "prevention_cloture": sc_prevention_cloture,
    "prevention_sortie": sc_prevention_sortie,
    "prevention_moins_16": sc_prevention_moins_16,
    "apprenti": sc_apprenti,
    "rupture_ouvert": sc_rupture_ouvert,
    "rupture_alerte": sc_rupture_alerte,
    "rupture_clos": sc_rupture_clos,
    "rupture_abandon": sc_rupture_abandon,
    "rupture_resolu": sc_rupture_resolu,
    "rupture_diplome": sc_rupture_diplome,
    "sortie_cfa": sc_sortie_cfa,
    "jeune_ml": sc_jeune_ml,
    "move_exit": sc_move_exit,
    "move_rupture": sc_move_rupture,
}


# -- invalid records (dead letters) ---------------------------------------------------


def _noise_person(g: _Gen, dep: str, etab: Etab | None = None) -> Person:
    """A young person who only appears in invalid records (not counted in `people`)."""
    near = etab.commune if etab and etab.commune else None
    return g.person(dep, g.dob_for_age(AS_OF, 16, 19), g.new_ine("BEA"), g.residence(dep, near), counted=False)


def _invalid(g: _Gen) -> None:
    inv = g.invalid

    # SIECLE — counted once per snapshot in which the bad element is listed.
    lp86 = g.etab("86", "LP")
    p = _noise_person(g, "86", lp86)
    enr = g.enrol(p, lp86)
    enr.overrides = {0: {"DATE_NAISS": "31/02/2009"}, 1: {"DATE_NAISS": "31/02/2009"}, 2: {"DATE_NAISS": "31/02/2009"}}
    inv["rectorat"] += 3  # BAD_DATE ×3
    lyc17 = g.etab("17", "LYCEE")
    p = _noise_person(g, "17", lyc17)
    enr = g.enrol(p, lyc17)
    enr.overrides = {0: {"CODE_COMMUNE_INSEE_RESIDENCE": p.commune[:4]}}  # corrected in April: enrolled then
    inv["rectorat"] += 1  # BAD_COMMUNE
    col79 = g.etab("79", "COLLEGE")
    p = g.person("79", g.dob_for_age(AS_OF, 16, 16), g.new_ine("BEA"), g.residence("79", col79.commune), counted=False)
    enr = g.enrol(p, col79, date(2026, 2, 2))
    enr.overrides = {1: {"PRENOM": ""}, 2: {"PRENOM": ""}}
    inv["rectorat"] += 2  # MISSING_FIELD ×2
    lp16 = g.etab("16", "LP")
    p = _noise_person(g, "16", lp16)
    enr = g.enrol(p, lp16)
    twin = g.enrol(p, lp16)
    twin.eleve_id = enr.eleve_id
    twin.duplicate = True
    inv["rectorat"] += 3  # BAD_VALUE (ELEVE_ID en double) ×3
    lyc86 = g.etab("86", "LYCEE")
    p = _noise_person(g, "86", lyc86)
    enr = g.enrol(p, lyc86)
    enr.ine = "08612345"  # not an INE: dropped, one warning per new event

    # Absenteeism
    def absence_line(p: Person, uai: str, mois: str, nj: str, j: str = "0", nom: str | None = None,
                     naiss: str | None = None) -> None:
        line = ";".join((uai, p.ine or "", p.nom.upper() if nom is None else nom, p.prenom,
                         _fr(p.dob) if naiss is None else naiss, mois, nj, j))
        y, m = (int(mois[:4]), int(mois[5:7])) if mois[5:7].isdigit() and 1 <= int(mois[5:7]) <= 12 else (2026, 6)
        g.absences.append(Row((y, m, uai, "~", p.prenom), line))
        inv["absenteisme"] += 1

    lp17 = g.etab("17", "LP")
    bad_letter = lp17.uai[:7] + ("A" if lp17.uai[7] != "A" else "B")
    absence_line(_noise_person(g, "17", lp17), bad_letter, "2025-11", "3")  # BAD_UAI
    absence_line(_noise_person(g, "17", lp17), lp17.uai[:6], "2025-12", "2")  # BAD_UAI
    absence_line(_noise_person(g, "86", lp86), lp86.uai, "2026-01", "-2")  # BAD_VALUE
    absence_line(_noise_person(g, "86", lp86), lp86.uai, "2026-02", "deux")  # BAD_VALUE
    absence_line(_noise_person(g, "79", col79), col79.uai, "2026-13", "4")  # BAD_VALUE (mois)
    absence_line(_noise_person(g, "16", lp16), lp16.uai, "2026-03", "2", nom="DUPONT;FILS")  # fields count
    absence_line(_noise_person(g, "16", lp16), lp16.uai, "2026-03", "5", nom="")  # MISSING_FIELD
    absence_line(_noise_person(g, "79", col79), col79.uai, "2026-07", "6")  # FUTURE_DATE
    absence_line(_noise_person(g, "86", lyc86), lyc86.uai, "2026-04", "3", naiss="2009-02-30")  # BAD_DATE

    # I-MILO
    def ml_line(p: Person, code: str, evenement: str, day: str, dispositif: str = "", situation: str = "",
                milo: str = "999001", commune: str | None = None) -> None:
        line = ";".join((code, milo, "", p.nom, p.prenom, _fr(p.dob), p.commune if commune is None else commune,
                         evenement, day, dispositif, situation))
        g.ml_rows.append(Row((date(2026, 3, 9), code, milo, evenement), line))
        inv["mission-locale"] += 1

    poi = "ML-86-POI"
    ml_line(_noise_person(g, "86"), "ML-85-YON", "PREMIER_ACCUEIL", "12/01/2026", milo="999002")  # BAD_VALUE
    ml_line(_noise_person(g, "86"), poi, "PREMIER_ACCUEIL", "30/02/2026", milo="999003")  # BAD_DATE
    ml_line(_noise_person(g, "86"), poi, "ENTREE_ACCOMPAGNEMENT", "16/03/2026", milo="999004")  # MISSING_FIELD
    ml_line(_noise_person(g, "86"), poi, "ACCUEIL", "17/03/2026", milo="999005")  # BAD_VALUE
    ml_line(_noise_person(g, "86"), poi, "SITUATION", "18/03/2026", situation="CHOMAGE", milo="999006")  # BAD_VALUE
    ml_line(_noise_person(g, "86"), poi, "PREMIER_ACCUEIL", "19/03/2026", commune="8619", milo="999007")  # BAD_COMMUNE
    ml_line(_noise_person(g, "86"), poi, "PREMIER_ACCUEIL", "02/07/2026", milo="999008")  # FUTURE_DATE
    ml_line(_noise_person(g, "86"), poi, "PREMIER_ACCUEIL", "20/03/2026", milo="")  # MISSING_FIELD

    # CFA
    cfa86 = g.etab("86", "CFA")
    good_siret = g.siret(cfa86.uai)
    bad_siret = good_siret[:13] + str((int(good_siret[13]) + 1) % 10)

    def cfa_line(p: Person, evenement: str, day: str, *, numero: str = "", uai: str = cfa86.uai,
                 siret: str = good_siret, start: str = "", cause: str = "", rqth: str = "N") -> None:
        line = ";".join((numero, uai, siret, p.ine or "", _upper_plain(p.nom), _upper_plain(p.prenom),
                         p.dob.isoformat(), p.commune or "", rqth, evenement, day, start, cause))
        g.cfa_rows.append(Row((date(2026, 2, 16), evenement, uai, numero), line))
        inv["cfa"] += 1

    cfa_line(_noise_person(g, "86"), "CONTRAT_SIGNE", "2026-02-02", numero="08620260299901", siret=bad_siret,
             start="2026-02-09")  # BAD_SIRET
    cfa_line(_noise_person(g, "86"), "CONTRAT_SIGNE", "2026-02-03", numero="08620260299902",
             uai=cfa86.uai[:7] + ("A" if cfa86.uai[7] != "A" else "B"), start="2026-02-09")  # BAD_UAI
    cfa_line(_noise_person(g, "86"), "CONTRAT_ROMPU", "2026-02-04", numero="08620250999903",
             cause="ACCORD_COMMUN")  # MISSING_FIELD date_debut_contrat
    cfa_line(_noise_person(g, "86"), "CONTRAT_ROMPU", "2026-02-05", numero="08620250999904",
             start="2025-09-15", cause="FIN_DE_CONTRAT")  # BAD_VALUE
    cfa_line(_noise_person(g, "86"), "CONTRAT_SIGNE", "2026-02-30", numero="08620260299905",
             start="2026-03-02")  # BAD_DATE
    cfa_line(_noise_person(g, "86"), "CONTRAT_SIGNE", "2026-07-06", numero="08620260799906",
             start="2026-07-06")  # FUTURE_DATE
    cfa_line(_noise_person(g, "86"), "CONTRAT_SIGNE", "2026-02-06", numero="08620260299907",
             start="2026-02-09", rqth="OUI")  # BAD_VALUE
    cfa_line(_noise_person(g, "86"), "CONTRAT_SIGNE", "2026-02-09", numero="08620260299908",
             siret="", start="2026-02-16")  # MISSING_FIELD siret

    # CTI
    lp = g.etab("79", "LP")

    def cti_line(text: str, day: date) -> None:
        g.cti_rows.append(Row((day, "~", text[:20]), text))
        inv["cti"] += 1

    def report(p: Person, **changes) -> str:
        doc = {"cti": lp.cti, "uai": lp.uai, "type": "REPERAGE", "date": "2026-03-10", "reference": "fiche-2026-9901",
               "motif": "absences répétées",
               "jeune": {"ine": None, "nom": p.nom, "prenom": p.prenom, "date_naissance": p.dob.isoformat(),
                         "commune_residence": p.commune}}
        doc.update(changes)
        return json.dumps({k: v for k, v in doc.items() if v is not ...}, ensure_ascii=False)

    whole = report(_noise_person(g, "79", lp), reference="fiche-2026-9902")
    cti_line(whole[: len(whole) // 2], date(2026, 3, 10))  # BAD_JSON (truncated line)
    cti_line(f"{lp.cti};{lp.uai};REPERAGE;2026-03-11;fiche-2026-9903", date(2026, 3, 11))  # BAD_JSON (CSV pasted)
    cti_line(report(_noise_person(g, "79", lp), cti="CTI-E-85-01", reference="fiche-2026-9904"),
             date(2026, 3, 12))  # BAD_VALUE (CTI inconnu)
    cti_line(report(_noise_person(g, "79", lp), type="ALERTE", reference="fiche-2026-9905"),
             date(2026, 3, 13))  # BAD_VALUE (type)
    cti_line(report(_noise_person(g, "79", lp), jeune=..., reference="fiche-2026-9906"),
             date(2026, 3, 16))  # MISSING_FIELD (jeune)
    cti_line(report(_noise_person(g, "79", lp), date="2026-02-30", reference="fiche-2026-9907"),
             date(2026, 3, 17))  # BAD_DATE
    cti_line(report(_noise_person(g, "79", lp), date="2026-07-01", reference="fiche-2026-9908"),
             date(2026, 6, 30))  # FUTURE_DATE


# -- writing --------------------------------------------------------------------------

_SUBDIRS = ("siecle", "absenteisme", "mission-locale", "cfa", "cti")
SIECLE_DIRS = tuple(f"siecle/{d.isoformat()}" for d in SNAPSHOTS)
ABSENTEEISM_FILE = "absenteisme/absenteisme-2025-09_2026-06.csv"
IMILO_FILE = "mission-locale/imilo-export-2026-06-30.csv"
CFA_FILE = "cfa/contrats-apprentissage-2025-2026.csv"
CTI_FILE = "cti/signalements-cti-2025-2026.jsonl"
_OLD_NOM_TAG = {"0160764U"}  # the Charente EREA's older SIECLE writes <NOM>

ABSENTEEISM_HEADER = "uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees"
IMILO_HEADER = (
    "code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;date_evenement;"
    "dispositif;situation"
)
CFA_HEADER = (
    "numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;evenement;"
    "date_evenement;date_debut_contrat;cause_rupture"
)


def _mef(division: str) -> str:
    """A stable 11-digit CODE_MEF for a division (no hash(): it is salted per process)."""
    n = 0
    for ch in division:
        n = (n * 131 + ord(ch)) % 10**11
    return f"{n:011d}"


def _eleve_xml(enr: Enrolment, snapshot: int, when: date, old_nom: bool) -> tuple[str, str]:
    fields: dict[str, str | None] = {
        "ID_NATIONAL": enr.ine,
        "NOM" if old_nom else "NOM_DE_FAMILLE": enr.nom,
        "NOM_USAGE": "",
        "PRENOM": enr.prenom,
        "PRENOM2": enr.p.prenom2,
        "DATE_NAISS": _fr(enr.p.dob),
        "CODE_SEXE": enr.p.sexe,
        "CODE_REGIME": "2",
        "CODE_COMMUNE_INSEE_RESIDENCE": enr.commune,
        "DATE_ENTREE": _fr(enr.entree),
        "CODE_MEF": _mef(enr.division),
    }
    if enr.sortie is not None and enr.sortie <= when:
        fields["DATE_SORTIE"] = _fr(enr.sortie)
        fields["CODE_MOTIF_SORTIE"] = enr.motif
    for k, v in enr.overrides.get(snapshot, {}).items():
        fields[k] = v
    attrs = f"ELEVE_ID={quoteattr(enr.eleve_id)} ELENOET={quoteattr(str(enr.elenoet))}"
    body = "".join(f"        <{k}>{escape(v)}</{k}>\n" for k, v in fields.items() if v is not None)
    eleve = f"      <ELEVE {attrs}>\n{body}      </ELEVE>\n"
    structure = (
        f"      <STRUCTURES_ELEVE {attrs}>\n        <STRUCTURE>\n"
        f"          <CODE_STRUCTURE>{escape(enr.division)}</CODE_STRUCTURE>\n"
        f"          <TYPE_STRUCTURE>D</TYPE_STRUCTURE>\n        </STRUCTURE>\n      </STRUCTURES_ELEVE>\n"
    )
    return eleve, structure


def _write_siecle(g: _Gen, out: Path) -> list[str]:
    by_uai: dict[str, list[Enrolment]] = {}
    for enr in g.enrolments:
        by_uai.setdefault(enr.etab.uai, []).append(enr)
    for uai, enrolments in by_uai.items():
        for n, enr in enumerate(sorted(enrolments, key=lambda e: (e.eleve_id, e.duplicate)), start=1):
            enr.elenoet = 2000 + n if not enr.duplicate else enr.elenoet
        for enr in enrolments:  # a duplicate listing repeats its original's ELENOET
            if enr.duplicate:
                enr.elenoet = next(e.elenoet for e in enrolments if e.eleve_id == enr.eleve_id and not e.duplicate)
    etabs = sorted((e for e in g.all_etabs if e.type in SIECLE_TYPES), key=lambda e: e.uai)
    written = []
    for index, (snapshot, folder) in enumerate(zip(SNAPSHOTS, SIECLE_DIRS, strict=True)):
        (out / folder).mkdir(parents=True, exist_ok=True)
        for etab in etabs:
            pupils = [e for e in by_uai.get(etab.uai, ()) if e.listed(snapshot)]
            pupils.sort(key=lambda e: (e.duplicate, e.nom, e.prenom, e.eleve_id))
            old = etab.uai in _OLD_NOM_TAG
            parts = [_eleve_xml(e, index, snapshot, old) for e in pupils]
            stamp = f"{_fr(snapshot)} {20 + g.rng.randrange(3):02d}:{g.rng.randrange(60):02d}:{g.rng.randrange(60):02d}"
            text = (
                '<?xml version="1.0" encoding="ISO-8859-15"?>\n'
                '<BEE_ELEVES VERSION="3.1">\n'
                "  <PARAMETRES>\n"
                f"    <UAJ>{etab.uai}</UAJ>\n"
                "    <ANNEE_SCOLAIRE>2025</ANNEE_SCOLAIRE>\n"
                f"    <DATE_EXPORT>{_fr(snapshot)}</DATE_EXPORT>\n"
                f"    <HORODATAGE>{stamp}</HORODATAGE>\n"
                "  </PARAMETRES>\n"
                "  <DONNEES>\n"
                "    <ELEVES>\n"
                + "".join(e for e, _ in parts)
                + "    </ELEVES>\n"
                "    <STRUCTURES>\n"
                + "".join(s for _, s in parts)
                + "    </STRUCTURES>\n"
                "  </DONNEES>\n"
                "</BEE_ELEVES>\n"
            )
            name = f"{folder}/BEE_ELEVES_{etab.uai}.xml"
            (out / name).write_bytes(text.encode("iso-8859-15"))
            written.append(name)
    return written


def _write_lines(path: Path, header: str | None, rows: list[Row], *, encoding: str, bom: bool, eol: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=lambda r: r.sort)
    lines = ([header] if header else []) + [r.text for r in ordered]
    data = (eol.join(lines) + eol).encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


def generate(
    out_dir: Path,
    *,
    seed: int = 2026,
    people: int = 3000,
    directory_path: Path | str = DEFAULT_DIRECTORY,
) -> DemoManifest:
    """Write the demo data set under `out_dir` and return its manifest.

    `people` young people (≥ MIN_PEOPLE, so that every key scenario fits twice per
    département), plus a few more who only appear in invalid records. The folders this
    function owns (siecle/, absenteisme/, mission-locale/, cfa/, cti/) are emptied first,
    so that a stale file of an earlier run is never ingested.
    """
    if people < MIN_PEOPLE:
        raise ValueError(f"people must be at least {MIN_PEOPLE} (got {people})")
    out = Path(out_dir).resolve()
    directory_path = Path(directory_path)
    rng = random.Random(seed)
    g = _Gen(rng, directory_path)

    plan: list[tuple[str, str]] = [(s, dep) for dep in DEPARTEMENTS for s in KEY_SCENARIOS for _ in range(_PER_DEPARTEMENT)]
    fixed = len(plan) + _HORS_TERRITOIRE + 2 * _HOMONYM_PAIRS
    plan += [(g.weighted(_WEIGHTS), g.weighted(_DEP_WEIGHTS)) for _ in range(people - fixed)]
    rng.shuffle(plan)
    for scenario, dep in plan:
        SCENARIOS[scenario](g, dep)
        g.scenarios[scenario] += 1
    for n in range(_HORS_TERRITOIRE):
        sc_hors_territoire(g, n)
        g.scenarios["hors_territoire"] += 1
    for n in range(_HOMONYM_PAIRS):
        sc_homonymes(g, n)
        g.scenarios["homonyme"] += 2
    assert g.people == people, (g.people, people)
    _invalid(g)

    out.mkdir(parents=True, exist_ok=True)
    for sub in _SUBDIRS:
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
    files = _write_siecle(g, out)
    _write_lines(out / ABSENTEEISM_FILE, ABSENTEEISM_HEADER, g.absences, encoding="cp1252", bom=False, eol="\r\n")
    _write_lines(out / IMILO_FILE, IMILO_HEADER, g.ml_rows, encoding="utf-8", bom=True, eol="\r\n")
    _write_lines(out / CFA_FILE, CFA_HEADER, g.cfa_rows, encoding="utf-8", bom=False, eol="\n")
    _write_lines(out / CTI_FILE, None, g.cti_rows, encoding="utf-8", bom=False, eol="\n")
    files += [ABSENTEEISM_FILE, IMILO_FILE, CFA_FILE, CTI_FILE]

    steps = tuple(
        IngestStep("rectorat", folder, None, f"SIECLE, instantané du {_fr(d)} (un fichier par établissement)")
        for folder, d in zip(SIECLE_DIRS, SNAPSHOTS, strict=True)
    ) + (
        IngestStep("absenteisme", ABSENTEEISM_FILE, AS_OF, "absentéisme mensuel, septembre 2025 à juin 2026"),
        IngestStep("mission-locale", IMILO_FILE, AS_OF, "extraction I-MILO régionale"),
        IngestStep("cfa", CFA_FILE, AS_OF, "contrats d'apprentissage (CFA et DECA)"),
        IngestStep("cti", CTI_FILE, AS_OF, "fiches des CTI"),
    )
    manifest = DemoManifest(
        out_dir=out,
        seed=seed,
        people=people,
        directory=directory_path,
        clock=AS_OF,
        steps=steps,
        files=tuple(sorted(files)),
        scenarios=dict(sorted(g.scenarios.items())),
        invalid=dict(sorted(g.invalid.items())),
    )
    (out / MANIFEST_NAME).write_text(manifest.dumps(), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """`python -m hub.demo.generate OUT_DIR [--seed N] [--people N] [--preview]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hub.demo.generate", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY)
    parser.add_argument("--preview", action="store_true", help="also run the connectors and rules in memory")
    args = parser.parse_args(argv)
    manifest = generate(args.out_dir, seed=args.seed, people=args.people, directory_path=args.directory)
    print(f"{len(manifest.files)} fichiers dans {manifest.out_dir} ; horloge attendue {manifest.clock.isoformat()}")
    for argv_ in manifest.commands():
        print("hub " + " ".join(argv_))
    if args.preview:
        from hub.demo.preview import preview

        print(preview(manifest).summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
