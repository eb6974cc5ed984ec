"""rules.md §4 and §5 "Exit from school": grace, solutions, reasons, resolution, L313-8 alert."""

from __future__ import annotations

import pytest

from hub.identity import case_id

from .builders import (
    CFA,
    KEY,
    LYCEE_A,
    LYCEE_B,
    action,
    cases,
    d,
    days,
    evidence_types,
    inscrit,
    ml,
    one,
    rompu,
    run,
    signe,
    sortie_cfa,
    sorti,
)

D = d("2026-01-10")  # exit date
O = d("2026-02-09")  # D + 30
LATER = d("2026-04-30")  # before the L313-8 alert (2026-05-09)
ADULT = d("2006-06-01")  # 19 in 2026


def test_exit_opens_after_30_days_of_grace():
    evs = [inscrit(d("2025-09-02")), sorti(D)]
    res = run(evs, O - days(1))
    assert res.cases == [] and res.next_deadline == O
    case = one(evs, O)
    assert case["opened_on"] == O
    assert case["status"] == "OUVERT"
    assert case["case_id"] == case_id(KEY, "OBLIGATION_FORMATION", O)
    assert evidence_types(case) == ["ELEVE_SORTI"]
    assert case["observatoire"] == "OBS-86"
    assert case["assigned_to"] == {"role": "MISSION_LOCALE", "code": "ML-86-POI"}
    assert case["periode_essai"] is None


@pytest.mark.parametrize(("offset", "has_case"), [(29, False), (30, False), (31, True)])
def test_grace_solution_before_or_at_the_opening_date_means_no_case(offset, has_case):
    evs = [sorti(D), inscrit(D + days(offset), uai=LYCEE_B)]
    found = cases(evs, d("2026-03-31"))
    if not has_case:
        assert found == []
    else:
        (case,) = found
        assert case["opened_on"] == O
        assert case["status"] == "RESOLU"
        assert case["outcome"] == "RETOUR_SCOLAIRE"
        assert case["closed_on"] == D + days(offset)
        assert evidence_types(case) == ["ELEVE_SORTI", "ELEVE_INSCRIT"]


def test_left_1_march_contract_20_march_never_gets_a_case():
    # rules.md §3: whatever the order the files come in, the clock waits for every source.
    evs = [sorti(d("2026-03-01"), dob=ADULT), signe(d("2026-03-20"), dob=ADULT)]
    assert cases(evs, d("2026-12-31")) == []


@pytest.mark.parametrize("reason", ["07", "08"])
def test_abroad_and_health_exits_never_trigger(reason):
    assert cases([sorti(D, motif=reason)], LATER) == []


def test_diploma_exit_at_17_is_an_obligation_case():
    assert one([sorti(D, motif="04")], LATER)["type"] == "OBLIGATION_FORMATION"


def test_diploma_exit_at_19_is_no_case():
    assert cases([sorti(D, motif="04", dob=ADULT)], LATER) == []
    assert one([sorti(D, motif="09", dob=ADULT)], LATER)["type"] == "DECROCHAGE"


# -- §4 the four forms of solution ---------------------------------------------------


def test_exit_from_a_while_enrolled_in_b_is_no_case():
    evs = [inscrit(d("2025-09-02"), uai=LYCEE_A), inscrit(d("2026-01-05"), uai=LYCEE_B), sorti(D, uai=LYCEE_A)]
    assert cases(evs, LATER) == []


def test_enrolment_ended_by_a_later_exit_from_the_same_establishment_is_no_solution():
    evs = [inscrit(d("2025-09-02"), uai=LYCEE_B), sorti(d("2026-01-05"), uai=LYCEE_B), sorti(D, uai=LYCEE_A)]
    case = one(evs, LATER)
    # The second exit (from A) met the first one's pending opening: one case.
    assert case["opened_on"] == d("2026-02-04")
    assert evidence_types(case) == ["ELEVE_SORTI", "ELEVE_SORTI"]


def test_signed_contract_is_a_solution_and_broken_one_is_not():
    assert cases([sorti(D), signe(D + days(5))], LATER) == []
    evs = [sorti(D), signe(D + days(5)), rompu(D + days(20), numero="C2", cause="OBTENTION_DIPLOME")]
    assert one(evs, LATER)["type"] == "OBLIGATION_FORMATION"


def test_contract_signed_before_the_exit_counts():
    # Left the lycée for apprenticeship (reason 03) after signing.
    assert cases([signe(d("2026-01-02")), sorti(D, motif="03")], LATER) == []


def test_contract_ended_by_leaving_the_cfa_is_no_solution():
    evs = [signe(d("2025-09-01"), numero="C9"), sorti(D), sortie_cfa(D + days(2), uai_cfa=CFA)]
    case = one(evs, LATER)  # one exit case: the CFA exit attached to it
    assert case["type"] == "OBLIGATION_FORMATION"
    assert evidence_types(case) == ["ELEVE_SORTI", "SORTIE_CFA"]


def test_accompaniment_is_a_solution_until_left():
    assert cases([sorti(D), ml(D + days(3), "ENTREE_ACCOMPAGNEMENT")], LATER) == []
    evs = [sorti(D), ml(D + days(3), "ENTREE_ACCOMPAGNEMENT"), ml(D + days(10), "SORTIE_ACCOMPAGNEMENT")]
    assert one(evs, LATER)["status"] == "OUVERT"


def test_premier_accueil_alone_is_no_solution():
    assert one([sorti(D), ml(D + days(3), "PREMIER_ACCUEIL")], LATER)["status"] == "OUVERT"


@pytest.mark.parametrize("situation", ["EMPLOI", "FORMATION", "APPRENTISSAGE", "SCOLARITE", "SERVICE_CIVIQUE"])
def test_ml_situation_between_trigger_and_opening_is_a_solution(situation):
    assert cases([sorti(D), ml(D + days(10), "SITUATION", situation)], LATER) == []


@pytest.mark.parametrize("situation", ["SANS_SOLUTION", "INJOIGNABLE"])
def test_ml_situation_without_solution_is_none(situation):
    assert one([sorti(D), ml(D + days(10), "SITUATION", situation)], LATER)["status"] == "OUVERT"


def test_ml_situation_before_the_trigger_does_not_count():
    case = one([ml(D - days(1), "SITUATION", "EMPLOI"), sorti(D)], LATER)
    assert case["status"] == "OUVERT"


def test_ml_situation_on_the_trigger_date_counts():
    assert cases([ml(D, "SITUATION", "EMPLOI"), sorti(D)], LATER) == []


def test_only_the_latest_ml_situation_counts():
    evs = [sorti(D), ml(D + days(3), "SITUATION", "EMPLOI"), ml(D + days(8), "SITUATION", "SANS_SOLUTION")]
    assert one(evs, LATER)["status"] == "OUVERT"


# -- resolution ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("solution", "outcome"),
    [
        (lambda day: inscrit(day, uai=LYCEE_B), "RETOUR_SCOLAIRE"),
        (lambda day: signe(day), "APPRENTISSAGE"),
        (lambda day: ml(day, "ENTREE_ACCOMPAGNEMENT"), "ACCOMPAGNEMENT_ML"),
        (lambda day: ml(day, "SITUATION", "SERVICE_CIVIQUE"), "SERVICE_CIVIQUE"),
    ],
)
def test_resolved_by_each_form_of_solution(solution, outcome):
    day = d("2026-03-15")
    case = one([sorti(D), solution(day)], LATER)
    assert (case["status"], case["outcome"], case["closed_on"]) == ("RESOLU", outcome, day)


def test_solution_dated_after_the_clock_resolves_as_soon_as_known():
    clock = d("2026-03-01")
    case = one([sorti(D), signe(d("2026-04-15"))], clock)
    assert (case["status"], case["closed_on"]) == ("RESOLU", d("2026-04-15"))


def test_second_exit_while_open_attaches_to_the_case():
    evs = [sorti(D), sorti(d("2026-03-01"), uai=LYCEE_B, motif="99")]
    case = one(evs, d("2026-06-30"))
    assert case["opened_on"] == O
    assert evidence_types(case) == ["ELEVE_SORTI", "ELEVE_SORTI"]


def test_new_exit_after_resolution_opens_a_new_case():
    evs = [sorti(D), inscrit(d("2026-02-20"), uai=LYCEE_B), sorti(d("2026-03-10"), uai=LYCEE_B)]
    first, second = cases(evs, d("2026-04-30"))
    assert (first["status"], first["outcome"]) == ("RESOLU", "RETOUR_SCOLAIRE")
    assert (second["opened_on"], second["status"]) == (d("2026-04-09"), "OUVERT")
    assert first["case_id"] != second["case_id"]


def test_counsellor_solution_resolves_with_its_kind():
    cid = case_id(KEY, "OBLIGATION_FORMATION", O)
    evs = [sorti(D), action(d("2026-03-02"), cid, "SOLUTION_CONSEILLER", "EMPLOI")]
    case = one(evs, LATER)
    assert (case["status"], case["outcome"], case["closed_on"]) == ("RESOLU", "EMPLOI", d("2026-03-02"))
    assert evidence_types(case) == ["ELEVE_SORTI", "ACTION_SUIVI"]


def test_action_for_another_case_id_is_ignored():
    evs = [sorti(D), action(d("2026-03-02"), "c-000000000000000000000000", "SOLUTION_CONSEILLER", "EMPLOI")]
    case = one(evs, LATER)
    assert case["status"] == "OUVERT" and evidence_types(case) == ["ELEVE_SORTI"]


@pytest.mark.parametrize("alias", [None, "n-name-key-digest"])
def test_an_action_on_a_case_that_an_earlier_exit_absorbed_applies_to_the_case_that_absorbed_it(alias):
    """rules.md §3 and §5 "General": the CFA exit of 2026-02-20 opened a case on
    2026-03-22 and the counsellor recorded the interview on it; then an earlier school
    exit arrives (or, known by name only, the CFA exit is linked to the INE of that exit):
    the person has one exit case, opened on O, which the CFA exit joins. The action goes
    with it, as if the school exit had come first: the interview within three months of O
    means no alert."""
    owner = alias or KEY
    first = case_id(owner, "OBLIGATION_FORMATION", d("2026-03-22"))
    ine = None if alias else KEY
    cfa_exit = sortie_cfa(d("2026-02-20"), ine=ine)
    interview = action(d("2026-03-30"), first, "ENTRETIEN_REALISE", ine=ine)
    alone = one([cfa_exit, interview], d("2026-12-31"), key=owner)  # the case the action was recorded on
    assert (alone["case_id"], alone["alerted_on"]) == (first, None)
    aliases = {alias} if alias else ()
    for evs in ([sorti(D), cfa_exit, interview], [interview, cfa_exit, sorti(D)]):
        case = one(evs, d("2026-12-31"), aliases=aliases)
        assert (case["case_id"], case["opened_on"]) == (case_id(KEY, "OBLIGATION_FORMATION", O), O)
        assert (case["status"], case["alerted_on"]) == ("OUVERT", None)
        assert evidence_types(case) == ["ELEVE_SORTI", "SORTIE_CFA", "ACTION_SUIVI"]


def test_an_action_on_a_rupture_that_an_earlier_rupture_absorbed_applies_to_it():
    first = case_id(KEY, "RUPTURE", d("2026-02-01"))
    solution = action(d("2026-02-05"), first, "SOLUTION_CONSEILLER", "EMPLOI")
    evs = [rompu(D, numero="C1"), rompu(d("2026-02-01"), numero="C2"), solution]
    case = one(evs, d("2026-03-31"))
    assert (case["opened_on"], case["status"], case["outcome"]) == (D, "RESOLU", "EMPLOI")


# -- L313-8: a minor received within three months ------------------------------------

ALERT = d("2026-05-09")  # O + 3 months


def test_obligation_case_turns_alerte_after_3_months_without_interview():
    evs = [sorti(D)]
    res = run(evs, ALERT - days(1))
    assert res.cases[0]["status"] == "OUVERT"
    assert res.next_deadline == ALERT
    case = one(evs, ALERT)
    assert (case["status"], case["alerted_on"]) == ("ALERTE", ALERT)


@pytest.mark.parametrize(("what", "when", "status"), [
    ("ENTRETIEN_REALISE", ALERT, "OUVERT"),  # within: the last day counts
    ("ENTRETIEN_REALISE", ALERT + days(1), "ALERTE"),  # too late, and the alert stays
    ("RDV_PRIS", d("2026-03-01"), "ALERTE"),  # an appointment is not an interview
    ("DEJA_ACCOMPAGNE", d("2026-03-01"), "ALERTE"),
    ("CONTACTE", d("2026-03-01"), "ALERTE"),
])
def test_interview_within_3_months_prevents_the_alert(what, when, status):
    cid = case_id(KEY, "OBLIGATION_FORMATION", O)
    case = one([sorti(D), action(when, cid, what)], d("2026-06-30"))
    assert case["status"] == status
    assert evidence_types(case)[-1] == "ACTION_SUIVI"


def test_decrochage_never_turns_alerte():
    case = one([sorti(D, dob=ADULT)], d("2026-12-31"))
    assert (case["type"], case["status"]) == ("DECROCHAGE", "OUVERT")


def test_alerte_case_is_still_resolved_and_keeps_alerted_on():
    case = one([sorti(D), signe(d("2026-06-01"))], d("2026-06-30"))
    assert (case["status"], case["alerted_on"], case["closed_on"]) == ("RESOLU", ALERT, d("2026-06-01"))


def test_late_known_solution_before_opening_removes_the_case():
    # A Mission locale accompaniment dated within the grace, known late: no case at all.
    assert cases([sorti(D), ml(d("2026-02-01"), "ENTREE_ACCOMPAGNEMENT")], LATER) == []


def test_late_known_solution_keeps_a_case_a_counsellor_already_acted_on():
    cid = case_id(KEY, "OBLIGATION_FORMATION", O)
    evs = [sorti(D), ml(d("2026-02-01"), "ENTREE_ACCOMPAGNEMENT"), action(d("2026-02-15"), cid, "CONTACTE")]
    case = one(evs, LATER)
    assert case["case_id"] == cid
    assert (case["status"], case["outcome"], case["closed_on"]) == ("RESOLU", "ACCOMPAGNEMENT_ML", O)


def test_an_action_never_resolves_a_case_another_exit_of_its_opening_day_opens():
    # Two exits before 16 both open on the 16th birthday. The first is followed by a
    # training (a solution in its window), the second by nothing: the case opens, and
    # stays open when a counsellor records an interview on it — the "late solution"
    # exception that keeps a case an action names is the first exit's, not the case's.
    dob = d("2010-06-01")
    birthday = d("2026-06-01")
    evs = [inscrit(d("2025-09-01"), dob=dob), sorti(d("2025-10-01"), dob=dob),
           ml(d("2025-11-01"), "SITUATION", "FORMATION", dob=dob, ine=KEY),
           inscrit(d("2026-01-05"), LYCEE_B, dob=dob), sorti(d("2026-03-01"), uai=LYCEE_B, dob=dob)]
    cid = case_id(KEY, "OBLIGATION_FORMATION", birthday)
    interview = action(d("2026-06-10"), cid, "ENTRETIEN_REALISE", dob=dob)
    for events in (evs, [*evs, interview]):
        case = one(events, d("2026-07-01"))
        assert (case["case_id"], case["status"], case["outcome"], case["closed_on"]) == (cid, "OUVERT", None, None)
    # The same evidence but for the action: the second exit (the first gives no case).
    assert evidence_types(one(evs, d("2026-07-01"))) == ["ELEVE_SORTI"]
    assert evidence_types(one([*evs, interview], d("2026-07-01"))) == ["ELEVE_SORTI", "ACTION_SUIVI"]


# -- a second exit from an establishment already left ------------------------------------------------


def test_an_exit_from_an_establishment_already_left_is_no_new_exit():
    """One cannot leave a school one has already left: a second ELEVE_SORTI from it, with
    no enrolment there in between, triggers nothing. SIECLE exports ingested out of date
    order give exactly that: the newer export's exit by disappearance (99) first, then
    the older one's stated exit — here 04, a diploma, which opens no case for an adult —
    and in date order the stated exit comes first; the result is the same either way."""
    adult = d("2006-06-01")
    stated, disappeared = sorti(d("2026-02-01"), "04", dob=adult), sorti(d("2026-03-15"), "99", dob=adult)
    for events in ([stated, disappeared], [disappeared, stated]):
        assert cases(events, d("2026-06-30")) == []
    # Abroad (07): no case either, whichever export came first.
    assert cases([sorti(d("2026-02-01"), "07", dob=adult), disappeared], d("2026-06-30")) == []


def test_an_exit_after_a_return_to_the_same_establishment_is_a_new_exit():
    adult = d("2006-06-01")
    events = [sorti(d("2026-02-01"), "04", dob=adult), inscrit(d("2026-02-20"), dob=adult),
              sorti(d("2026-03-15"), "99", dob=adult)]
    case = one(events, d("2026-06-30"))
    assert (case["type"], case["opened_on"]) == ("DECROCHAGE", d("2026-04-14"))
    # Another establishment left meanwhile is another exit, too.
    other = [sorti(d("2026-02-01"), "04", dob=adult), sorti(d("2026-03-15"), "99", LYCEE_B, dob=adult)]
    assert one(other, d("2026-06-30"))["opened_on"] == d("2026-04-14")
