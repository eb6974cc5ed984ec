"""Properties of evaluate() over random histories (rules.md §3 "Determinism").

- The result depends on the *set* of events: any permutation, with any duplicates,
  gives the same evaluation.
- `next_deadline` is honest: for every clock c from the evaluated clock up to the day
  before `next_deadline`, the evaluation is identical (nothing changes before it).
- Invariants of every case record.
"""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.types.cases import OPEN_STATUSES

from .builders import (
    CFA,
    CHATELLERAULT,
    LA_ROCHELLE,
    LYCEE_A,
    LYCEE_B,
    POITIERS,
    absence,
    action,
    cti,
    d,
    days,
    inscrit,
    ml,
    rompu,
    run,
    signe,
    sortie_cfa,
    sorti,
)

BASE = d("2025-09-01")
SPAN = 700
DOBS = [d("2010-03-01"), d("2008-05-10"), d("2008-02-29"), d("2006-06-01"), d("2000-03-15"), d("1997-01-01")]
COMMUNES = [POITIERS, LA_ROCHELLE, CHATELLERAULT, None]
ACTIONS = ["ENTRETIEN_REALISE", "RDV_PRIS", "SOLUTION_CONSEILLER", "CONTACTE"]
SOLUTIONS = ["EMPLOI", "RETOUR_SCOLAIRE", "APPRENTISSAGE"]


@st.composite
def histories(draw):
    dob = draw(st.sampled_from(DOBS))
    n = draw(st.integers(1, 14))
    evs = []
    for ref in range(n):
        day = BASE + days(draw(st.integers(0, SPAN)))
        kw = {"dob": dob, "commune": draw(st.sampled_from(COMMUNES)), "ref": ref}
        kind = draw(st.integers(0, 10))
        if kind == 0:
            evs.append(inscrit(day, uai=draw(st.sampled_from([LYCEE_A, LYCEE_B])), **kw))
        elif kind in (1, 2):
            evs.append(sorti(day, motif=draw(st.sampled_from(["05", "04", "07", "99"])), uai=draw(st.sampled_from([LYCEE_A, LYCEE_B])), **kw))
        elif kind == 3:
            evs.append(signe(day, numero=draw(st.sampled_from(["C1", "C2", "C3"])), **kw))
        elif kind == 4:
            start = day - days(draw(st.integers(0, 90)))
            cause = draw(st.sampled_from(["DEMISSION_APPRENTI", "OBTENTION_DIPLOME", None]))
            evs.append(rompu(day, numero=draw(st.sampled_from(["C1", "C2"])), debut=start, cause=cause, **kw))
        elif kind == 5:
            evs.append(sortie_cfa(day, numero=draw(st.sampled_from([None, "C1"])), uai_cfa=CFA, **kw))
        elif kind == 6:
            what = draw(st.sampled_from(["ENTREE_ACCOMPAGNEMENT", "SORTIE_ACCOMPAGNEMENT", "SITUATION", "PREMIER_ACCUEIL"]))
            situation = draw(st.sampled_from(["EMPLOI", "SANS_SOLUTION", "FORMATION"])) if what == "SITUATION" else None
            evs.append(ml(day, what, situation, **kw))
        elif kind in (7, 8):
            mois = f"{day.year:04d}-{day.month:02d}"
            evs.append(absence(mois, draw(st.sampled_from([0, 3, 4, 6, 9, 10, 15])), uai=draw(st.sampled_from([LYCEE_A, LYCEE_B])), **kw))
        else:
            evs.append(cti(day, kind=draw(st.sampled_from(["REPERAGE", "SUIVI", "CLOTURE"])), **kw))
    # Counsellors act on cases that exist at some clock.
    first = run(evs, BASE + days(SPAN + 400)).cases
    if first and draw(st.booleans()):
        for ref in range(draw(st.integers(1, 3))):
            case = draw(st.sampled_from(first))
            day = case["opened_on"] + days(draw(st.integers(0, 200)))
            what = draw(st.sampled_from(ACTIONS))
            kind = draw(st.sampled_from(SOLUTIONS)) if what == "SOLUTION_CONSEILLER" else None
            evs.append(action(day, case["case_id"], what, kind, dob=dob, ref=100 + ref))
    return evs


clocks = st.integers(-30, SPAN + 900).map(lambda n: BASE + days(n))
SETTINGS = settings(max_examples=int(__import__("os").environ.get("RULES_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(histories(), clocks, st.randoms(use_true_random=False))
def test_any_order_and_duplicates_give_the_same_result(evs, clock, rnd):
    reference = run(evs, clock)
    shuffled = list(evs) + [rnd.choice(evs) for _ in range(rnd.randint(0, len(evs)))]
    rnd.shuffle(shuffled)
    assert run(shuffled, clock) == reference


@SETTINGS
@given(histories(), clocks, st.integers(0, 2000))
def test_nothing_changes_before_next_deadline(evs, clock, step):
    reference = run(evs, clock)
    deadline = reference.next_deadline
    if deadline is None:
        later = clock + days(step)
    else:
        assert deadline > clock
        later = clock + days(step % (deadline - clock).days)
    assert run(evs, later) == reference
    if deadline is not None and step % 7 == 0:
        # The day before the deadline, too.
        assert run(evs, deadline - days(1)) == reference


@SETTINGS
@given(histories(), clocks)
def test_case_invariants(evs, clock):
    res = run(evs, clock)
    open_types = [c["type"] for c in res.cases if c["status"] in OPEN_STATUSES]
    assert len(open_types) == len(set(open_types))
    assert not ({"DECROCHAGE", "OBLIGATION_FORMATION"} <= set(open_types))
    ids = [c["case_id"] for c in res.cases]
    assert len(ids) == len(set(ids)) and not set(ids) & set(res.erased)
    for c in res.cases:
        assert c["opened_on"] <= clock
        assert c["evidence"], c
        dates = [e["event_date"] for e in c["evidence"]]
        assert dates == sorted(dates)
        if c["status"] in OPEN_STATUSES:
            assert c["closed_on"] is None and c["outcome"] is None
        else:
            assert c["closed_on"] is not None and c["closed_on"] >= c["opened_on"]
            assert c["outcome"] is not None
        if c["alerted_on"] is not None:
            assert c["alerted_on"] >= c["opened_on"] and c["alerted_on"] <= clock
        if c["type"] == "RUPTURE":
            assert isinstance(c["periode_essai"], bool)
        else:
            assert c["periode_essai"] is None
        for t in c["transfers"]:
            assert t["date"] > c["opened_on"]
    assert isinstance(clock, date)
