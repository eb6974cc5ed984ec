"""One scenario per rule and per routing line of rules.md, end to end on the real broker.

Everything goes through the real connectors: the test writes the institutions' files
(SIECLE XML exports, I-MILO, CFA and absenteeism CSV, CTI JSON Lines — inputs.md), runs
`hub ingest SOURCE PATH --as-of DATE`, then `hub worker --until-idle`, and compares the
exact `hub cases --format jsonl` lines of each scenario's people with records written
by hand from rules.md (case ids from `hub.identity.case_id`).

A worker run costs tens of seconds, so the scenarios do not run one by one: the
module fixture `world` builds every scenario's people into one set of files per clock
step, and keeps what `hub cases` prints after each step:

- step 1, clock T1 (just after every watermark of the session, `base()`): most
  scenarios, their people dated so that each stands at the stage its test looks at;
- step 2, clock T2 = T1 + 20 days: late solutions, a move, and deadlines the clock
  passes with no new event (grace end, 16th birthday, 3-month and 150/180-day
  deadlines);
- step 3: a modified directory (département 37 given to OBS-86) re-routes a case; then a
  solution dated before the update arrives for another;
- step 4: the sample directory loaded again (also in a `finally`: the broker is shared
  by the whole session) re-routes it back.

Each test function then asserts one scenario's lines. The only inputs that are not
files are the counsellors' actions (an `ENTRETIEN_REALISE` and a `SOLUTION_CONSEILLER`, no
connector: they are produced on suivi.actions.v1 as the web application does).

Shared state: people are named `SCN<tag><LABEL>`; the schools left are two fresh UAJs
unknown to the directory (routing by residence), so their SIECLE snapshots are this
module's own; the LP of Montmorillon's snapshot is touched too (prevention closed by an
exit), which no other test uses. Cost: about 50 s (5 worker runs of ~6 s, 18 ingests,
11 `hub cases`, 2 directory loads).
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from hub.avro import get_codec
from hub.identity import case_id, name_digest, name_key
from hub.kafka.topics import LITIGES
from hub.settings import Settings
from tests.conftest import run_hub
from tests.connectors.helpers import fresh_uai
from tests.worker import factory as f
from tests.worker.conftest import SAMPLE_DIRECTORY, base, end_offsets, produce, read_since, run_worker
from tests.worker.scenario_files import Ev, Inputs, Person

pytestmark = pytest.mark.kafka

# From deploy/sample/annuaire-poitou-charentes.yaml.
POITIERS, LA_ROCHELLE, NIORT = "86194", "17300", "79191"
TOURS = "37261"  # département 37: no observatory in the sample directory
AJACCIO = "2A004"  # Corse-du-Sud: no observatory either
BORDEAUX = "33063"
NO_ML_86, NO_ML_79 = "86999", "79999"  # well-formed communes of 86 / 79 that no Mission locale lists
LP_MONTMORILLON = "0860077S"  # LP Raoul Mortier, commune 86165 (ML-86-SUD), CTI-E-86-03
LYCEE_POITIERS = "0860005N"  # Lycée Camille Guérin, 86194, no CTI
LP_LA_ROCHELLE = "0170029P"  # LP de Rompsay, 17300, CTI-E-17-01
CFA_86 = "0861410R"  # CFA CMA de la Vienne, 86214, CTI-R-86-01
CFA_BTP_86 = "0861433R"  # CFA du BTP de la Vienne, 86066 (Châtellerault), CTI-R-86-02
CFA_17 = "0171407M"  # CFA CMA de la Charente-Maritime, 17200 (Lagord, ML-17-LRO), CTI-R-17-01
MFR_79 = "0791175Y"  # MFR de Mauléon, 79079, no CTI

ML_POI = ("MISSION_LOCALE", "ML-86-POI")
HT = "HORS_TERRITOIRE"
OBS_QUEUE = {code: ("OBSERVATOIRE", code) for code in ("OBS-86", "OBS-79", HT)}
VIEWS = {1: ("all", HT), 2: ("all", "OBS-86", "OBS-17"), 3: ("all", "OBS-86", HT), 4: ("all", "OBS-86", HT)}
SOURCES_IN_ORDER = ("absenteisme", "cti", "rectorat", "mission-locale", "cfa")
SAME = object()


# -- dates ------------------------------------------------------------------------------------


def born(birthday: date, years: int) -> date:
    """Date of birth of someone whose `years`-th birthday is `birthday` (ValueError on 29/02)."""
    return birthday.replace(year=birthday.year - years)


def add_months(day: date, months: int) -> date:
    """Calendar months, the day clamped to the month's end (rules.md: "within 3 months")."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# -- the scenarios' inputs ----------------------------------------------------------------------


class Scenarios:
    """Every scenario's people and what the institutions send about them, step by step."""

    def __init__(self, inputs: Inputs, t1: date, tag: str) -> None:
        self.inp = inputs
        self.t1 = t1
        self.tag = tag
        self.X = fresh_uai("0869")  # the school left, unknown to the directory (routing by residence)
        self.Y = fresh_uai("0869")  # another school, for a return to school
        self.people: dict[str, Person] = {}

    def d(self, n: int) -> date:
        return self.t1 + timedelta(days=n)

    def person(self, label: str, dob: date, commune: str | None = POITIERS, ine: bool = True,
               nom: str | None = None) -> Person:
        p = Person(label, nom or f"SCN{self.tag}{label}", dob, f.random_ine() if ine else None, commune)
        self.people[label] = p
        return p

    def adult(self, label: str, **kw) -> Person:  # 19 from T1-100 days to T1+265
        return self.person(label, born(self.d(-100), 19), **kw)

    def minor(self, label: str, **kw) -> Person:  # 17 from T1-200 days to T1+165
        return self.person(label, born(self.d(-200), 17), **kw)

    def left_x(self, p: Person, day: date, motif: str = "05", **kw) -> None:
        """Enrolled at X 200 days before `day`, left X on `day`."""
        p.ev["inscrit"], p.ev["sorti"] = self.inp.eleve(self.X, p, day - timedelta(days=200), day, motif, **kw)

    # -- step 1 ---------------------------------------------------------------------------------

    def step1(self) -> None:
        inp, d = self.inp, self.d

        # §5 exit rule, the 30-day grace: a solution up to the opening date means no case.
        for label, day in (("G29", -31), ("G30", -30)):
            p = self.adult(label)
            self.left_x(p, d(-60))
            p.ev["acc"] = inp.ml(p, "ENTREE_ACCOMPAGNEMENT", d(day), dispositif="CEJ")
        self.left_x(self.adult("G31"), d(-35))  # its solution (day 31) arrives at step 2
        self.left_x(self.adult("GCLOCK"), d(-15))  # the grace ends between T1 and T2

        # §4 the forms of a solution, each one resolving an exit case (opened at d(-30)).
        for label in ("SOLSCOLAIRE", "SOLCONTRAT", "SOLACC", "SOLEMPLOI", "SOLFORMATION", "SOLAPPRENTISSAGE",
                      "SOLSCOLARITE", "SOLSERVICECIVIQUE", "NOSOLSANS", "NOSOLAVANT", "NOSOLSORTIEACC",
                      "NOSOLINJOIGNABLE"):
            self.left_x(self.adult(label), d(-60), "09")
        pp = self.people
        pp["SOLSCOLAIRE"].ev["sol"] = inp.eleve(self.Y, pp["SOLSCOLAIRE"], d(-20))[0]
        pp["SOLCONTRAT"].ev["sol"] = inp.signe(pp["SOLCONTRAT"], f"K{pp['SOLCONTRAT'].nom}", CFA_86, d(-20))
        pp["SOLACC"].ev["sol"] = inp.ml(pp["SOLACC"], "ENTREE_ACCOMPAGNEMENT", d(-20), dispositif="PACEA")
        for situation in ("EMPLOI", "FORMATION", "APPRENTISSAGE", "SCOLARITE", "SERVICE_CIVIQUE"):
            p = pp["SOL" + situation.replace("_", "")]
            p.ev["sol"] = inp.ml(p, "SITUATION", d(-20), situation=situation)
        inp.ml(pp["NOSOLSANS"], "SITUATION", d(-20), situation="SANS_SOLUTION")
        inp.ml(pp["NOSOLAVANT"], "SITUATION", d(-70), situation="EMPLOI")  # before the exit
        inp.ml(pp["NOSOLSORTIEACC"], "ENTREE_ACCOMPAGNEMENT", d(-90), dispositif="CEJ")
        inp.ml(pp["NOSOLSORTIEACC"], "SORTIE_ACCOMPAGNEMENT", d(-50))
        inp.ml(pp["NOSOLINJOIGNABLE"], "SITUATION", d(-45), situation="EMPLOI")
        inp.ml(pp["NOSOLINJOIGNABLE"], "SITUATION", d(-35), situation="INJOIGNABLE")

        # §5 exit reasons.
        for label, motif in (("M07", "07"), ("M08", "08"), ("M04ADULT", "04")):
            self.left_x(self.adult(label), d(-60), motif)
        self.left_x(self.minor("M04MINOR"), d(-60), "04")

        # §2 ages at the opening date d(-30) (exit d(-60)).
        births = {"A14": (d(-59), 15), "A15": (d(-10), 16), "A15LATER": (d(10), 16), "A16": (d(-30), 16),
                  "A17": (d(-29), 18), "A18": (d(-30), 18), "A25": (d(-29), 26), "A26": (d(-30), 26)}
        for label, (birthday, years) in births.items():
            self.left_x(self.person(label, born(birthday, years)), d(-60))

        # §5 OBLIGATION_FORMATION: ALERTE 3 months after opening with no interview.
        self.left_x(self.minor("OFALERT"), d(-130))  # opened d(-100), 3 months before T1
        self.left_x(self.minor("OFLATER"), d(-112))  # opened d(-82): 3 months end between T1 and T2
        self.left_x(self.minor("OFINTERVIEW"), d(-130))  # interview recorded (see `world`)
        self.left_x(self.adult("DECNOALERT"), d(-130))

        # §5 apprenticeship ruptures (CFA_86, CTI-R-86-01).
        for label, start in (("R44", d(-54)), ("R45", d(-55))):
            p = self.adult(label)
            p.ev["signe"] = inp.signe(p, f"K{p.nom}", CFA_86, start)
            p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-10), start)
        for label, day in (("R149", -149), ("R150", -150), ("R180", -180)):
            p = self.adult(label)
            p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(day), d(day - 200))
        p = self.minor("R179")  # 17 when the six months are over: OBLIGATION_FORMATION
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-179), d(-300))
        p = self.adult("RSORTIE")
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-60), d(-200))
        p.ev["sortie"] = inp.sortie_cfa(p, CFA_86, d(-20))
        p = self.adult("RSORTIESEULE")
        p.ev["sortie"] = inp.sortie_cfa(p, CFA_86, d(-40))
        p = self.adult("RDIPLOME")
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-30), d(-400), cause="OBTENTION_DIPLOME")
        for label, new in (("RNEW", -10), ("RSAMEDAY", -30)):
            p = self.adult(label)
            p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-30), d(-200))
            p.ev["signe"] = inp.signe(p, f"L{p.nom}", CFA_86, d(new))
        p = self.person("R15", born(d(-5), 16))
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-20), d(-100))
        p = self.adult("RBEFORE")  # another contract, signed before the rupture, in force
        p.ev["signe0"] = inp.signe(p, f"J{p.nom}", CFA_86, d(-100))
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-30), d(-90))
        p = self.adult("RDIPLOMESORTIE")  # the diploma, then the CFA's exit record
        inp.rompu(p, f"K{p.nom}", CFA_86, d(-60), d(-400), cause="OBTENTION_DIPLOME")
        inp.sortie_cfa(p, CFA_86, d(-55))
        p = self.adult("REXIT")  # left school, then a contract broken before the grace ends
        self.left_x(p, d(-60))
        p.ev["signe"] = inp.signe(p, f"K{p.nom}", CFA_86, d(-55))
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-40), d(-55))
        p = self.adult("RLINKED", commune=None)  # known by name only until step 2 (see `world`)
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-40), d(-200), with_ine=False)
        p = self.adult("RACC")  # accompanied by the Mission locale when the contract breaks
        p.ev["acc"] = inp.ml(p, "ENTREE_ACCOMPAGNEMENT", d(-60), dispositif="CEJ")
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_86, d(-30), d(-200))

        # §5 prevention: absences at the LP of Montmorillon (CTI-E-86-03), in the months
        # before T1's month (M = the last full one).
        first = self.t1.replace(day=1)
        m = first - timedelta(days=1)
        m1 = m.replace(day=1) - timedelta(days=1)
        m2 = m1.replace(day=1) - timedelta(days=1)
        self.months = (m2, m1, m)
        plan = {"PA10": [(m, 10)], "PA9": [(m, 9)], "PA44": [(m1, 4), (m, 4)], "PA43": [(m1, 4), (m, 3)],
                "PAGAP": [(m2, 4), (m, 4)]}
        for label, rows in plan.items():
            p = self.minor(label, commune=None)
            for i, (month, count) in enumerate(rows):
                p.ev[f"abs{i}"] = inp.absences(p, LP_MONTMORILLON, month.year, month.month, count, justified=2)
        p = self.minor("PANOCTI", commune=None)
        p.ev["abs0"] = inp.absences(p, LYCEE_POITIERS, m.year, m.month, 12)
        p = self.minor("PATWO", commune=None)  # changed school between the two months
        p.ev["abs0"] = inp.absences(p, LYCEE_POITIERS, m1.year, m1.month, 4)
        p.ev["abs1"] = inp.absences(p, LP_MONTMORILLON, m.year, m.month, 4)

        def report(p: Person, kind: str, day: date, n: int, cti: str = "CTI-E-86-03",
                   where: str = LP_MONTMORILLON) -> Ev:
            return inp.cti(p, cti, where, kind, day, f"fiche-{p.nom}-{n}")

        p = self.minor("PREPERAGE")
        p.ev["rep"], p.ev["suivi"] = report(p, "REPERAGE", d(-10), 1), report(p, "SUIVI", d(-5), 2)
        p = self.minor("PCLOTURE")
        p.ev["rep"], p.ev["clot"] = report(p, "REPERAGE", d(-20), 1), report(p, "CLOTURE", d(-5), 2)
        p = self.minor("PCLOTAUTRE")  # a CTI closing the case of another establishment
        p.ev["rep"] = report(p, "REPERAGE", d(-20), 1)
        p.ev["clot"] = report(p, "CLOTURE", d(-5), 2, cti="CTI-E-17-01", where=LP_LA_ROCHELLE)
        p = self.minor("PSORTIE")
        p.ev["rep"] = report(p, "REPERAGE", d(-40), 1)
        p.ev["inscrit"], p.ev["sorti"] = inp.eleve(LP_MONTMORILLON, p, d(-300), d(-15), "05")
        p = self.minor("PSAMEDAY")  # reported on the day the pupil leaves
        p.ev["rep"] = report(p, "REPERAGE", d(-15), 1)
        p.ev["inscrit"], p.ev["sorti"] = inp.eleve(LP_MONTMORILLON, p, d(-300), d(-15), "05")
        p = self.person("P15", born(d(-9), 16))
        p.ev["rep"] = report(p, "REPERAGE", d(-10), 1)
        p = self.person("P16", born(d(-10), 16))
        p.ev["rep"] = report(p, "REPERAGE", d(-10), 1)
        p = self.minor("PLAROCHELLE")  # lives in Poitiers, goes to school in La Rochelle
        p.ev["rep"] = report(p, "REPERAGE", d(-10), 1, cti="CTI-E-17-01", where=LP_LA_ROCHELLE)

        # §1 litige: two INEs share a name key; an INE-less rupture with that name key.
        nom = f"SCN{self.tag}HOMONYME"
        dob = born(d(-100), 19)
        for label in ("H1", "H2"):
            p = self.person(label, dob, commune=None, nom=nom)
            inp.ml(p, "PREMIER_ACCUEIL", d(-300), with_ine=True)
        p = self.people["H1"]
        p.ev["litige"] = inp.rompu(p, f"K{nom}", CFA_86, d(-10), d(-100), with_ine=False)

        # §6 moves.
        self.left_x(self.adult("MOVE"), d(-60), "09")
        p = self.minor("MOVEPREVENTION")
        p.ev["rep"] = report(p, "REPERAGE", d(-10), 1)

        # §6 directory update (steps 3 and 4): département 37 has no observatory yet.
        self.left_x(self.adult("DIROPEN", commune=TOURS), d(-60))
        self.left_x(self.adult("DIRHISTORY", commune=TOURS), d(-60))  # moves to La Rochelle at step 2
        p = self.adult("DIRCLOSED", commune=TOURS)
        self.left_x(p, d(-60))
        p.ev["acc"] = inp.ml(p, "ENTREE_ACCOMPAGNEMENT", d(-20), dispositif="CEJ")
        self.left_x(self.adult("DIRLATE", commune=TOURS), d(-60))  # a solution dated T1+10 arrives at step 3

        # §6 HORS_TERRITOIRE and the other routing lines.
        self.left_x(self.adult("HTCORSE", commune=AJACCIO), d(-60))
        p = self.minor("HTPREVENTION")
        p.ev["rep"] = report(p, "REPERAGE", d(-10), 1, cti="CTI-E-86-01", where=self.X)
        p = self.adult("RTNORESIDENCE", commune=None)
        p.ev["inscrit"], p.ev["sorti"] = inp.eleve(LP_MONTMORILLON, p, d(-260), d(-60), "05")
        self.left_x(self.adult("RTNOML", commune=NO_ML_86), d(-60))
        p = self.adult("RTUNCOVERED", commune=BORDEAUX)
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_BTP_86, d(-10), d(-100))
        p = self.adult("RTNAMEONLY", commune=None, ine=False)
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", CFA_17, d(-10), d(-100))
        p = self.adult("RTMFR", commune=NIORT)
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", MFR_79, d(-10), d(-100))
        p = self.adult("RTMFRNOML", commune=NO_ML_79)
        p.ev["rompu"] = inp.rompu(p, f"K{p.nom}", MFR_79, d(-10), d(-100))

    # -- step 2 ---------------------------------------------------------------------------------

    def step2(self) -> None:
        inp, d, pp = self.inp, self.d, self.people
        # Day 31 after the exit: a late I-MILO export brings the accompaniment.
        pp["G31"].ev["acc"] = inp.ml(pp["G31"], "ENTREE_ACCOMPAGNEMENT", d(-4), dispositif="CEJ")
        # Moves: the Mission locale of La Rochelle receives them.
        for label in ("MOVE", "MOVEPREVENTION", "DIRHISTORY"):
            p = pp[label]
            p.ev["move"] = inp.ml(p, "PREMIER_ACCUEIL", d(5), code_ml="ML-17-LRO", commune=LA_ROCHELLE)
        # §1 linking: the first record with the INE of the rupture known by name only.
        inp.ml(pp["RLINKED"], "PREMIER_ACCUEIL", d(3), with_ine=True)


# -- the module's world -------------------------------------------------------------------------


@dataclass
class World:
    sc: Scenarios
    t1: date
    t2: date
    views: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    counts: dict[tuple[int, str], dict] = field(default_factory=dict)
    litiges: dict[str, bytes | None] = field(default_factory=dict)

    @property
    def p(self) -> dict[str, Person]:
        return self.sc.people

    def d(self, n: int) -> date:
        return self.sc.d(n)


def ingest(env: dict, source: str, path: Path, as_of: date) -> dict:
    done = run_hub("ingest", source, str(path), "--as-of", as_of.isoformat(), "--json", env=env)
    assert done.returncode == 0, f"{source}: {done.stderr}"
    counts = json.loads(done.stdout)
    assert counts["rejected"] == 0, (source, counts)
    return counts


def capture(env: dict, world: World, step: int) -> None:
    for view in VIEWS[step]:
        args = () if view == "all" else ("--observatoire", view)
        done = run_hub("cases", "--format", "jsonl", *args, env=env)
        assert done.returncode == 0, done.stderr
        world.views[(step, view)] = done.stdout.splitlines()


def modified_directory(folder: Path) -> Path:
    """The sample directory with département 37 given to OBS-86 and Tours to ML-86-POI."""
    doc = yaml.safe_load(SAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    for obs in doc["observatoires"]:
        if obs["code"] == "OBS-86":
            obs["departements"] = [*obs["departements"], "37"]
    for ml in doc["missions_locales"]:
        if ml["code"] == "ML-86-POI":
            ml["communes"] = [*ml["communes"], TOURS]
    path = folder / "annuaire-37.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(prepared, tmp_path_factory) -> World:
    """Runs the four steps (module doc) with a worker of its own; keeps every step's views."""
    folder = tmp_path_factory.mktemp("scenarios")
    env = {**prepared, "HUB_HOME": str(folder / "home"), "HUB_WORKER_ID": f"scenarios-{uuid.uuid4().hex[:8]}"}
    tag = uuid.uuid4().hex[:6].upper()
    t1 = base(env)
    for _ in range(10):  # a date of birth on 29 February has no birthday every year: avoid
        try:
            probe = Scenarios(Inputs(folder / "probe"), t1, tag)
            probe.step1()
            probe.step2()
            break
        except ValueError:
            t1 += timedelta(days=1)
    t2 = t1 + timedelta(days=20)
    sc = Scenarios(Inputs(folder / "files"), t1, tag)
    w = World(sc, t1, t2)

    # Step 1.
    sc.step1()
    files = sc.inp.write(t1, always=(sc.X,))
    litiges_start = end_offsets(env, LITIGES)
    for source in SOURCES_IN_ORDER:
        w.counts[(1, source)] = ingest(env, source, files[source], t1)
    interview = w.p["OFINTERVIEW"]
    of_case = case_id(interview.key, "OBLIGATION_FORMATION", sc.d(-100))
    action = f.action(
        {"ine": interview.ine, "nom": interview.nom, "prenom": interview.prenom,
         "date_naissance": interview.dob, "commune_residence": interview.commune},
        sc.d(-50), of_case, "ENTRETIEN_REALISE")
    produce(env, [action])
    interview.ev["entretien"] = Ev("ACTION_SUIVI", sc.d(-50), "suivi", action["source_ref"])
    linked = by_name_only(w.p["RLINKED"])
    solution = f.action(
        {"ine": None, "nom": linked.nom, "prenom": linked.prenom, "date_naissance": linked.dob,
         "commune_residence": None},
        sc.d(-30), case_id(linked.key, "RUPTURE", sc.d(-40)), "SOLUTION_CONSEILLER", solution="EMPLOI")
    produce(env, [solution])
    w.p["RLINKED"].ev["solution"] = Ev("ACTION_SUIVI", sc.d(-30), "suivi", solution["source_ref"])
    run_worker(env)
    capture(env, w, 1)
    w.litiges = read_since(env, LITIGES, litiges_start)

    # Step 2: the clock moves to T2, late events arrive.
    sc.step2()
    sent = {source for source, rows in sc.inp.rows.items() if rows} | {"rectorat", "mission-locale", "cfa"}
    files = sc.inp.write(t2, always=(sc.X,))
    for source in SOURCES_IN_ORDER:
        if source in sent:  # the clock sources always: their as-of moves the clock
            w.counts[(2, source)] = ingest(env, source, files[source], t2)
    run_worker(env)
    capture(env, w, 2)

    # Steps 3 and 4: a directory update, then the sample directory again.
    try:
        done = run_hub("directory", "load", str(modified_directory(folder)), env=env)
        assert done.returncode == 0, done.stderr
        run_worker(env)
        # A solution dated before the update, received after it (rules.md §3 and §6).
        late = w.p["DIRLATE"]
        late.ev["sit"] = sc.inp.ml(late, "SITUATION", sc.d(10), situation="EMPLOI")
        w.counts[(3, "mission-locale")] = ingest(env, "mission-locale", sc.inp.write(t2)["mission-locale"], t2)
        run_worker(env)
        capture(env, w, 3)
    finally:
        done = run_hub("directory", "load", str(SAMPLE_DIRECTORY), env=env)
        assert done.returncode == 0, done.stderr
    run_worker(env)
    capture(env, w, 4)
    return w


# -- expected records -------------------------------------------------------------------------------


def by_name_only(p: Person) -> Person:
    """`p` as the hub knows them before any record carries their INE."""
    return dataclasses.replace(p, ine=None)



def person_out(p: Person, commune=SAME) -> dict:
    return {"ine": p.ine, "nom": p.nom, "prenom": p.prenom, "date_naissance": p.dob.isoformat(),
            "commune_residence": p.commune if commune is SAME else commune}


def case(p: Person, kind: str, opened: date, *, status: str = "OUVERT", outcome: str | None = None,
         obs: str = "OBS-86", to: tuple[str, str] = ML_POI, alerted: date | None = None, closed: date | None = None,
         essai: bool | None = None, evidence: tuple[Ev, ...] = (), transfers: tuple[dict, ...] = (),
         commune=SAME) -> dict:
    return {
        "case_id": case_id(p.key, kind, opened),
        "type": kind,
        "status": status,
        "outcome": outcome,
        "observatoire": obs,
        "assigned_to": {"role": to[0], "code": to[1]},
        "person": person_out(p, commune),
        "opened_on": iso(opened),
        "alerted_on": iso(alerted),
        "closed_on": iso(closed),
        "periode_essai": essai,
        "evidence": [e.entry() for e in evidence],
        "transfers": list(transfers),
    }


def transfer(day: date, frm: str, to: str, reason: str) -> dict:
    return {"date": day.isoformat(), "from_observatoire": frm, "to_observatoire": to, "reason": reason}


def transfere(record: dict, obs: str, closed: date, transfers: list[dict]) -> dict:
    """The last record an observatory keeps of a case that left it: no personal data."""
    return {**record, "status": "TRANSFERE", "outcome": None, "observatoire": obs,
            "assigned_to": {"role": "OBSERVATOIRE", "code": obs}, "person": None, "alerted_on": None,
            "closed_on": iso(closed), "evidence": [], "transfers": transfers}


def line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False)


def check(world: World, step: int, people: list[Person], expected: list[dict], view: str = "all",
          case_ids: tuple[str, ...] = ()) -> None:
    """The lines of `people` (and of `case_ids`, for TRANSFERE records) in the view are
    exactly `expected`, in `hub cases` order (by case id)."""
    noms = {p.nom for p in people}
    got = []
    for text in world.views[(step, view)]:
        rec = json.loads(text)
        if (rec["person"] is not None and rec["person"]["nom"] in noms) or rec["case_id"] in case_ids:
            got.append(text)
    expected = sorted(expected, key=lambda r: r["case_id"])
    assert [json.loads(x) for x in got] == expected
    assert got == [line(r) for r in expected]


# -- §5 exit rule: the grace ------------------------------------------------------------------------


def test_a_solution_by_day_29_or_30_of_the_grace_means_no_case(world):
    for step in (1, 2):
        check(world, step, [world.p["G29"], world.p["G30"]], [])


def test_a_solution_on_day_31_comes_after_the_case_opened_and_resolves_it(world):
    p, d = world.p["G31"], world.d
    opened = case(p, "DECROCHAGE", d(-5), evidence=(p.ev["sorti"],))
    check(world, 1, [p], [opened])
    resolved = {**opened, "status": "RESOLU", "outcome": "ACCOMPAGNEMENT_ML", "closed_on": iso(d(-4)),
                "evidence": [p.ev["sorti"].entry(), p.ev["acc"].entry()]}
    check(world, 2, [p], [resolved])


def test_the_case_opens_when_the_clock_passes_the_end_of_the_grace(world):
    p, d = world.p["GCLOCK"], world.d
    check(world, 1, [p], [])  # exit on T1-15: the grace ends on T1+15
    check(world, 2, [p], [case(p, "DECROCHAGE", d(15), evidence=(p.ev["sorti"],))])


# -- §4 situation at a date -------------------------------------------------------------------------


@pytest.mark.parametrize("label, outcome", [
    ("SOLSCOLAIRE", "RETOUR_SCOLAIRE"),
    ("SOLCONTRAT", "APPRENTISSAGE"),
    ("SOLACC", "ACCOMPAGNEMENT_ML"),
    ("SOLEMPLOI", "EMPLOI"),
    ("SOLFORMATION", "FORMATION"),
    ("SOLAPPRENTISSAGE", "APPRENTISSAGE"),
    ("SOLSCOLARITE", "SCOLARITE"),
    ("SOLSERVICECIVIQUE", "SERVICE_CIVIQUE"),
])
def test_each_form_of_solution_resolves_the_exit_case(world, label, outcome):
    p, d = world.p[label], world.d
    expected = case(p, "DECROCHAGE", d(-30), status="RESOLU", outcome=outcome, closed=d(-20),
                    evidence=(p.ev["sorti"], p.ev["sol"]))
    check(world, 1, [p], [expected])
    check(world, 2, [p], [expected])


@pytest.mark.parametrize("label", ["NOSOLSANS", "NOSOLAVANT", "NOSOLSORTIEACC", "NOSOLINJOIGNABLE"])
def test_what_is_not_a_solution_leaves_the_case_open(world, label):
    """SANS_SOLUTION; a situation dated before the exit; an accompaniment left before the
    opening; EMPLOI then a later INJOIGNABLE (only the latest situation counts)."""
    p, d = world.p[label], world.d
    check(world, 1, [p], [case(p, "DECROCHAGE", d(-30), evidence=(p.ev["sorti"],))])


# -- §5 exit reasons and §2 ages -----------------------------------------------------------------------


def test_exit_reasons(world):
    p, d = world.p, world.d
    # 07 (abroad), 08 (health): never a case; 04 (diploma): a case for a minor only.
    check(world, 1, [p["M07"], p["M08"], p["M04ADULT"]], [])
    minor = p["M04MINOR"]
    check(world, 1, [minor], [case(minor, "OBLIGATION_FORMATION", d(-30), evidence=(minor.ev["sorti"],))])


def test_ages_at_the_opening_date(world):
    p, d = world.p, world.d

    def of(label: str, opened: date, kind: str = "OBLIGATION_FORMATION") -> dict:
        return case(p[label], kind, opened, evidence=(p[label].ev["sorti"],))

    # 14 at the exit: the connector filters the pupil out, so no rule ever sees them.
    assert world.counts[(1, "rectorat")]["filtered"] == 1
    check(world, 2, [p["A14"]], [])
    # 15 at the end of the grace: the case waits for the 16th birthday.
    check(world, 1, [p["A15"]], [of("A15", d(-10))])
    check(world, 1, [p["A15LATER"]], [])
    check(world, 2, [p["A15LATER"]], [of("A15LATER", d(10))])
    check(world, 1, [p["A16"]], [of("A16", d(-30))])  # 16 on the opening date
    check(world, 1, [p["A17"]], [of("A17", d(-30))])  # 18 the day after: still a minor's case
    check(world, 1, [p["A18"]], [of("A18", d(-30), "DECROCHAGE")])  # 18 on the opening date
    check(world, 1, [p["A25"]], [of("A25", d(-30), "DECROCHAGE")])  # 26 the day after
    check(world, 1, [p["A26"]], [])  # 26 on the opening date: beyond the exit rule


# -- §5 OBLIGATION_FORMATION: 3 months (L313-8) ---------------------------------------------------------


def test_obligation_formation_turns_alerte_three_months_after_opening_without_interview(world):
    p, d = world.p, world.d
    alert = p["OFALERT"]
    check(world, 1, [alert], [case(alert, "OBLIGATION_FORMATION", d(-100), status="ALERTE",
                                   alerted=add_months(d(-100), 3), evidence=(alert.ev["sorti"],))])
    later = p["OFLATER"]
    opened = case(later, "OBLIGATION_FORMATION", d(-82), evidence=(later.ev["sorti"],))
    assert world.t1 < add_months(d(-82), 3) <= world.t2
    check(world, 1, [later], [opened])
    check(world, 2, [later], [{**opened, "status": "ALERTE", "alerted_on": iso(add_months(d(-82), 3))}])


def test_an_interview_within_three_months_prevents_the_alert_and_decrochage_never_alerts(world):
    p, d = world.p, world.d
    met = p["OFINTERVIEW"]
    check(world, 2, [met], [case(met, "OBLIGATION_FORMATION", d(-100),
                                 evidence=(met.ev["sorti"], met.ev["entretien"]))])
    adult = p["DECNOALERT"]
    check(world, 2, [adult], [case(adult, "DECROCHAGE", d(-100), evidence=(adult.ev["sorti"],))])


# -- §5 apprenticeship ruptures -----------------------------------------------------------------------------

CTI_R_86 = ("CTI_REGION", "CTI-R-86-01")


def rupture(p: Person, opened: date, essai: bool = False, **kw) -> dict:
    kw.setdefault("evidence", (p.ev["rompu"],))
    kw.setdefault("to", CTI_R_86)
    return case(p, "RUPTURE", opened, essai=essai, **kw)


def test_the_rupture_notes_the_45_day_free_period(world):
    p, d = world.p, world.d
    # Start S is day 1: a rupture on S+44 is day 45 (within), on S+45 day 46 (not).
    check(world, 1, [p["R44"]], [rupture(p["R44"], d(-10), essai=True)])
    check(world, 1, [p["R45"]], [rupture(p["R45"], d(-10), essai=False)])


def test_a_rupture_still_open_at_150_days_turns_alerte(world):
    p, d = world.p, world.d
    r149 = rupture(p["R149"], d(-149))
    check(world, 1, [p["R149"]], [r149])
    check(world, 2, [p["R149"]], [{**r149, "status": "ALERTE", "alerted_on": iso(d(1))}])
    check(world, 1, [p["R150"]], [rupture(p["R150"], d(-150), status="ALERTE", alerted=d(0))])


def test_at_180_days_the_rupture_closes_and_the_exit_rule_takes_over(world):
    p, d = world.p, world.d
    adult = p["R180"]
    check(world, 1, [adult], [
        rupture(adult, d(-180), status="CLOS", outcome="SANS_SOLUTION", alerted=d(-30), closed=d(0)),
        case(adult, "DECROCHAGE", d(0), evidence=(adult.ev["rompu"],)),
    ])
    minor = p["R179"]
    alerte = rupture(minor, d(-179), status="ALERTE", alerted=d(-29))
    check(world, 1, [minor], [alerte])
    check(world, 2, [minor], [
        {**alerte, "status": "CLOS", "outcome": "SANS_SOLUTION", "closed_on": iso(d(1))},
        case(minor, "OBLIGATION_FORMATION", d(1), evidence=(minor.ev["rompu"],)),
    ])


def test_sortie_cfa_during_a_rupture_closes_it_abandon_and_opens_the_exit_case_at_once(world):
    p, d = world.p, world.d
    left = p["RSORTIE"]
    both = (left.ev["rompu"], left.ev["sortie"])
    check(world, 1, [left], [
        rupture(left, d(-60), status="CLOS", outcome="ABANDON", closed=d(-20), evidence=both),
        case(left, "DECROCHAGE", d(-20), evidence=both),
    ])


def test_sortie_cfa_without_a_rupture_is_an_exit_with_the_grace(world):
    p, d = world.p, world.d
    left = p["RSORTIESEULE"]
    check(world, 1, [left], [case(left, "DECROCHAGE", d(-10), evidence=(left.ev["sortie"],))])


def test_an_early_end_for_the_diploma_is_no_rupture(world):
    for step in (1, 2):
        check(world, step, [world.p["RDIPLOME"]], [])


def test_the_cfa_exit_after_the_diploma_is_an_exit_with_the_diploma(world):
    # L313-7 (leaving without the diploma): reason 04, no DECROCHAGE at 18–25.
    for step in (1, 2):
        check(world, step, [world.p["RDIPLOMESORTIE"]], [])


def test_a_contract_signed_before_the_rupture_and_in_force_resolves_it_at_once(world):
    # rules.md §5: it is not "signed on or after D" (the case opens), but it is a
    # solution (§4 "signed and not broken off"): resolved on the opening date.
    p, d = world.p["RBEFORE"], world.d
    check(world, 1, [p], [rupture(p, d(-30), status="RESOLU", outcome="APPRENTISSAGE", closed=d(-30),
                                  evidence=(p.ev["signe0"], p.ev["rompu"]))])


def test_an_exit_from_school_and_a_rupture_each_have_their_case(world):
    # rules.md §5 "at most one open case per person and type": a broken contract is no
    # solution at the end of the grace, the exit case opens beside the rupture.
    p, d = world.p["REXIT"], world.d
    check(world, 1, [p], [rupture(p, d(-40), essai=True),
                          case(p, "DECROCHAGE", d(-30), evidence=(p.ev["sorti"],))])


def test_a_new_contract_resolves_the_rupture_and_one_signed_that_day_means_no_case(world):
    p, d = world.p, world.d
    new = p["RNEW"]
    check(world, 1, [new], [rupture(new, d(-30), status="RESOLU", outcome="APPRENTISSAGE", closed=d(-10),
                                    evidence=(new.ev["rompu"], new.ev["signe"]))])
    check(world, 1, [p["RSAMEDAY"]], [])


def test_only_a_new_contract_prevents_a_rupture_case_another_solution_resolves_it_at_once(world):
    p, d = world.p, world.d
    acc = p["RACC"]
    check(world, 1, [acc], [rupture(acc, d(-30), status="RESOLU", outcome="ACCOMPAGNEMENT_ML", closed=d(-30),
                                    evidence=(acc.ev["acc"], acc.ev["rompu"]))])


def test_a_counsellor_solution_on_a_rupture_known_by_name_only_follows_it_to_the_ine(world):
    # rules.md §1: the first record with the INE links the name key to it and the case
    # takes its INE id; the solution recorded under the former id stays (§3).
    p, d = world.p["RLINKED"], world.d
    resolved = dict(status="RESOLU", outcome="EMPLOI", closed=d(-30), evidence=(p.ev["rompu"], p.ev["solution"]))
    check(world, 1, [p], [rupture(by_name_only(p), d(-40), **resolved)])
    check(world, 2, [p], [rupture(p, d(-40), **resolved)])


def test_a_rupture_before_16_opens_on_the_16th_birthday(world):
    p, d = world.p, world.d
    check(world, 1, [p["R15"]], [rupture(p["R15"], d(-5))])


# -- §5 prevention ----------------------------------------------------------------------------------------

CTI_E_86 = ("CTI_ETAT", "CTI-E-86-03")


def prevention(p: Person, opened: date, evidence: tuple[Ev, ...], **kw) -> dict:
    kw.setdefault("to", CTI_E_86)
    return case(p, "PREVENTION", opened, evidence=evidence, **kw)


def test_prevention_by_absences(world):
    p = world.p
    last = world.sc.months[2]  # last day of the last full month before T1
    check(world, 1, [p["PA10"]], [prevention(p["PA10"], last, (p["PA10"].ev["abs0"],))])
    check(world, 1, [p["PA44"]], [prevention(p["PA44"], last, (p["PA44"].ev["abs0"], p["PA44"].ev["abs1"]))])
    # 9 in a month; 4 then 3; 4 in two months that do not follow each other: nothing.
    check(world, 2, [p["PA9"], p["PA43"], p["PAGAP"]], [])
    # Counted per person: 4 at one school, then 4 at the next; the case is the second's.
    check(world, 1, [p["PATWO"]], [prevention(p["PATWO"], last, (p["PATWO"].ev["abs0"], p["PATWO"].ev["abs1"]))])


def test_prevention_by_a_cti_reperage_and_further_signals_attach(world):
    p, d = world.p["PREPERAGE"], world.d
    check(world, 1, [p], [prevention(p, d(-10), (p.ev["rep"], p.ev["suivi"]))])


def test_prevention_closed_by_the_cti(world):
    p, d = world.p["PCLOTURE"], world.d
    check(world, 1, [p], [prevention(p, d(-20), (p.ev["rep"], p.ev["clot"]), status="CLOS",
                                     outcome="CLOTURE_CTI", closed=d(-5))])


def test_a_cti_closes_only_its_establishments_prevention_case(world):
    p, d = world.p["PCLOTAUTRE"], world.d
    check(world, 2, [p], [prevention(p, d(-20), (p.ev["rep"],))])


def test_prevention_closed_when_the_pupil_leaves_then_the_exit_rule_applies(world):
    p, d = world.p["PSORTIE"], world.d
    closed = prevention(p, d(-40), (p.ev["rep"], p.ev["sorti"]), status="CLOS", outcome="SORTIE", closed=d(-15))
    check(world, 1, [p], [closed])
    check(world, 2, [p], [closed, case(p, "OBLIGATION_FORMATION", d(15), evidence=(p.ev["sorti"],))])


def test_prevention_reported_on_the_day_the_pupil_leaves_is_closed_by_that_exit(world):
    p, d = world.p["PSAMEDAY"], world.d
    closed = prevention(p, d(-15), (p.ev["rep"], p.ev["sorti"]), status="CLOS", outcome="SORTIE", closed=d(-15))
    check(world, 1, [p], [closed])
    check(world, 2, [p], [closed, case(p, "OBLIGATION_FORMATION", d(15), evidence=(p.ev["sorti"],))])


def test_prevention_needs_16_at_the_opening_date(world):
    p, d = world.p, world.d
    for step in (1, 2):  # no deferral to the birthday
        check(world, step, [p["P15"]], [])
    check(world, 1, [p["P16"]], [prevention(p["P16"], d(-10), (p["P16"].ev["rep"],))])


# -- §1 identity -------------------------------------------------------------------------------------------


def test_an_ine_less_record_matching_two_ines_goes_to_the_litiges_topic_and_makes_no_case(world):
    h1, h2 = world.p["H1"], world.p["H2"]
    digest = name_digest(name_key(h1.nom, h1.prenom, h1.dob), Settings().pseudonym_secret)
    # The module's engine reads every topic from the start: other tests' litiges come
    # again. Ours is there, and none of this module's other people is in dispute.
    own = {name_digest(name_key(x.nom, x.prenom, x.dob), Settings().pseudonym_secret) for x in world.p.values()}
    assert [k for k in world.litiges if k in own] == [digest]
    codec = get_codec()
    record = codec.decode(world.litiges[digest])
    assert record["candidates"] == sorted([h1.ine, h2.ine])
    event = codec.decode(record["event"])
    assert record["event_id"] == event["event_id"]
    rompu = h1.ev["litige"]
    assert (event["event_type"], event["event_date"], event["source"], event["source_ref"]) == (
        rompu.event_type, rompu.event_date, rompu.source, rompu.source_ref)
    assert event["person"] == {"ine": None, "nom": h1.nom, "prenom": h1.prenom, "date_naissance": h1.dob,
                               "commune_residence": None}
    for step in (1, 2):
        check(world, step, [h1, h2], [])


# -- §6 routing ---------------------------------------------------------------------------------------------


def test_a_move_transfers_the_case_and_the_old_observatory_keeps_a_transfere_record(world):
    p, d = world.p["MOVE"], world.d
    opened = case(p, "DECROCHAGE", d(-30), evidence=(p.ev["sorti"],))
    check(world, 1, [p], [opened])
    moves = [transfer(d(5), "OBS-86", "OBS-17", "DEMENAGEMENT")]
    moved = {**opened, "observatoire": "OBS-17", "assigned_to": {"role": "MISSION_LOCALE", "code": "ML-17-LRO"},
             "person": person_out(p, LA_ROCHELLE), "evidence": [p.ev["sorti"].entry(), p.ev["move"].entry()],
             "transfers": moves}
    check(world, 2, [p], [moved])
    check(world, 2, [p], [moved], view="OBS-17")
    check(world, 2, [p], [transfere(opened, "OBS-86", d(5), moves)], view="OBS-86",
          case_ids=(opened["case_id"],))


def test_a_prevention_case_stays_with_its_establishment_when_the_pupil_moves(world):
    p, d = world.p["MOVEPREVENTION"], world.d
    opened = prevention(p, d(-10), (p.ev["rep"],))
    check(world, 1, [p], [opened])
    check(world, 2, [p], [{**opened, "person": person_out(p, LA_ROCHELLE)}])
    check(world, 2, [p], [{**opened, "person": person_out(p, LA_ROCHELLE)}], view="OBS-86")


def test_a_directory_update_reroutes_an_open_case_and_back(world):
    p, d, t2 = world.p["DIROPEN"], world.d, world.t2
    outside = case(p, "DECROCHAGE", d(-30), obs=HT, to=OBS_QUEUE[HT], evidence=(p.ev["sorti"],))
    check(world, 1, [p], [outside])
    check(world, 1, [p], [outside], view=HT)
    check(world, 2, [p], [outside])
    # Département 37 given to OBS-86, Tours to ML-86-POI: the case moves, dated by the clock.
    there = [transfer(t2, HT, "OBS-86", "ANNUAIRE")]
    moved = {**outside, "observatoire": "OBS-86", "assigned_to": {"role": "MISSION_LOCALE", "code": "ML-86-POI"},
             "transfers": there}
    cid = (outside["case_id"],)
    check(world, 3, [p], [moved])
    check(world, 3, [p], [moved], view="OBS-86")
    check(world, 3, [p], [transfere(outside, HT, t2, there)], view=HT, case_ids=cid)
    # The sample directory again: back to the queue, OBS-86 keeps a TRANSFERE record.
    back_and_forth = [*there, transfer(t2, "OBS-86", HT, "ANNUAIRE")]
    back = {**outside, "transfers": back_and_forth}
    check(world, 4, [p], [back])
    check(world, 4, [p], [back], view=HT)
    check(world, 4, [p], [transfere(outside, "OBS-86", t2, back_and_forth)], view="OBS-86", case_ids=cid)


def test_a_directory_update_keeps_the_history_of_a_case_whose_territory_did_not_change_owner(world):
    """rules.md §6 re-routes the open cases "whose territory changed owner", and a transfer
    carries the case's history: a case that left the queue (Tours) for La Rochelle before
    département 37 got an observatory stays where it is with its history; the queue keeps
    its TRANSFERE record and OBS-86, the new owner of Tours, never sees the case."""
    p, d = world.p["DIRHISTORY"], world.d
    outside = case(p, "DECROCHAGE", d(-30), obs=HT, to=OBS_QUEUE[HT], evidence=(p.ev["sorti"],))
    check(world, 1, [p], [outside])
    moves = [transfer(d(5), HT, "OBS-17", "DEMENAGEMENT")]
    moved = {**outside, "observatoire": "OBS-17", "assigned_to": {"role": "MISSION_LOCALE", "code": "ML-17-LRO"},
             "person": person_out(p, LA_ROCHELLE), "evidence": [p.ev["sorti"].entry(), p.ev["move"].entry()],
             "transfers": moves}
    cid = (outside["case_id"],)
    for step in (2, 3, 4):
        check(world, step, [p], [moved])
    for step in (3, 4):
        check(world, step, [p], [transfere(outside, HT, d(5), moves)], view=HT, case_ids=cid)
        check(world, step, [p], [], view="OBS-86", case_ids=cid)


def test_a_directory_update_leaves_a_closed_case_where_it_was(world):
    """rules.md §6: "A directory update re-routes *open* cases whose territory changed owner":
    a case resolved before the update stays with the observatory that handled it."""
    p, d = world.p["DIRCLOSED"], world.d
    resolved = case(p, "DECROCHAGE", d(-30), obs=HT, to=OBS_QUEUE[HT], status="RESOLU",
                    outcome="ACCOMPAGNEMENT_ML", closed=d(-20), evidence=(p.ev["sorti"], p.ev["acc"]))
    for step in (1, 2, 3, 4):
        check(world, step, [p], [resolved])


def test_a_case_closed_before_a_directory_update_stays_where_it_was_when_its_closing_arrives_after(world):
    """rules.md §3 (the result does not depend on when a record arrives) and §6 (an update
    re-routes *open* cases): the case was moved at step 3 while it looked open, then a
    solution dated before the update arrived. It ends as if the solution had come first:
    resolved in the queue, no ANNUAIRE transfer, nothing left at OBS-86."""
    p, d = world.p["DIRLATE"], world.d
    outside = case(p, "DECROCHAGE", d(-30), obs=HT, to=OBS_QUEUE[HT], evidence=(p.ev["sorti"],))
    check(world, 2, [p], [outside])
    resolved = {**outside, "status": "RESOLU", "outcome": "EMPLOI", "closed_on": iso(d(10)),
                "evidence": [p.ev["sorti"].entry(), p.ev["sit"].entry()]}
    cid = (outside["case_id"],)
    for step in (3, 4):
        check(world, step, [p], [resolved])
        check(world, step, [p], [resolved], view=HT)
        check(world, step, [p], [], view="OBS-86", case_ids=cid)


def test_hors_territoire(world):
    p, d = world.p, world.d
    # Residence in Corsica, establishment unknown to the directory: nobody covers it.
    corse = case(p["HTCORSE"], "DECROCHAGE", d(-30), obs=HT, to=OBS_QUEUE[HT], evidence=(p["HTCORSE"].ev["sorti"],))
    # A prevention signal from an establishment the directory does not know.
    prev = prevention(p["HTPREVENTION"], d(-10), (p["HTPREVENTION"].ev["rep"],), obs=HT, to=OBS_QUEUE[HT])
    check(world, 1, [p["HTCORSE"], p["HTPREVENTION"]], [corse, prev])
    check(world, 1, [p["HTCORSE"], p["HTPREVENTION"]], [corse, prev], view=HT)


def test_routing_by_residence_to_the_mission_locale(world):
    p, d = world.p["A18"], world.d
    check(world, 1, [p], [case(p, "DECROCHAGE", d(-30), evidence=(p.ev["sorti"],))])


def test_routing_unknown_residence_falls_back_on_the_establishment_left(world):
    p, d = world.p["RTNORESIDENCE"], world.d
    check(world, 1, [p], [case(p, "DECROCHAGE", d(-30), to=("MISSION_LOCALE", "ML-86-SUD"),
                               evidence=(p.ev["sorti"],))])


def test_routing_no_mission_locale_for_the_commune_goes_to_the_observatory(world):
    p, d = world.p["RTNOML"], world.d
    check(world, 1, [p], [case(p, "DECROCHAGE", d(-30), to=OBS_QUEUE["OBS-86"], evidence=(p.ev["sorti"],))])


def test_routing_a_rupture_of_a_residence_no_observatory_covers_goes_to_the_cfa_territory(world):
    p, d = world.p["RTUNCOVERED"], world.d
    check(world, 1, [p], [rupture(p, d(-10), to=("CTI_REGION", "CTI-R-86-02"))])


def test_routing_a_rupture_known_by_name_only_without_residence_goes_to_the_cfa_territory(world):
    p, d = world.p["RTNAMEONLY"], world.d
    assert p.ine is None  # a name key with no INE: a person of its own
    check(world, 1, [p], [rupture(p, d(-10), obs="OBS-17", to=("CTI_REGION", "CTI-R-17-01"))])


def test_routing_a_rupture_in_a_cfa_without_cti_goes_to_the_mission_locale_then_the_observatory(world):
    p, d = world.p, world.d
    check(world, 1, [p["RTMFR"]], [rupture(p["RTMFR"], d(-10), obs="OBS-79", to=("MISSION_LOCALE", "ML-79-NIO"))])
    check(world, 1, [p["RTMFRNOML"]], [rupture(p["RTMFRNOML"], d(-10), obs="OBS-79", to=OBS_QUEUE["OBS-79"])])


def test_routing_prevention_by_the_establishment(world):
    p, d = world.p, world.d
    # The establishment's commune decides, not the residence (Poitiers).
    rochelle = p["PLAROCHELLE"]
    check(world, 1, [rochelle], [prevention(rochelle, d(-10), (rochelle.ev["rep"],), obs="OBS-17",
                                            to=("CTI_ETAT", "CTI-E-17-01"))])
    # A lycée without CTI: the observatory.
    lycee = p["PANOCTI"]
    check(world, 1, [lycee], [prevention(lycee, world.sc.months[2], (lycee.ev["abs0"],), to=OBS_QUEUE["OBS-86"])])
