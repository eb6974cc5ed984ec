"""rules.md §5 "Prevention" (Code de l'éducation L131-8)."""

from __future__ import annotations

import pytest

from hub.identity import case_id

from .builders import (
    KEY,
    LYCEE_17,
    LYCEE_A,
    LYCEE_B,
    absence,
    action,
    cases,
    cti,
    d,
    evidence_types,
    inscrit,
    ml,
    one,
    run,
    sorti,
)

CLOCK = d("2026-06-30")


def test_four_half_days_in_two_consecutive_months():
    evs = [absence("2026-01", 4), absence("2026-02", 4)]
    case = one(evs, CLOCK)
    assert case["type"] == "PREVENTION"
    assert case["opened_on"] == d("2026-02-28")
    assert case["status"] == "OUVERT"
    assert case["assigned_to"] == {"role": "CTI_ETAT", "code": "CTI-E-86-01"}
    assert evidence_types(case) == ["ABSENTEISME_MENSUEL", "ABSENTEISME_MENSUEL"]
    assert case["periode_essai"] is None


def test_december_and_january_are_consecutive():
    assert one([absence("2025-12", 5), absence("2026-01", 6)], CLOCK)["opened_on"] == d("2026-01-31")


@pytest.mark.parametrize(
    "rows",
    [
        [("2026-01", 4), ("2026-03", 4)],  # not consecutive
        [("2026-01", 3), ("2026-02", 9)],  # 3 < 4
        [("2026-01", 9)],  # 9 < 10
        [("2025-06", 8), ("2025-09", 8)],  # the summer is in between
    ],
)
def test_no_trigger(rows):
    assert cases([absence(m, n, ref=i) for i, (m, n) in enumerate(rows)], CLOCK) == []


def test_ten_half_days_in_one_month():
    case = one([absence("2026-03", 10)], CLOCK)
    assert case["opened_on"] == d("2026-03-31")


def test_absences_count_per_person_across_establishments():
    # A pupil who changed school between the two months: the rule counts the person's
    # half-days; the case belongs to the establishment of the month that reached it.
    case = one([absence("2026-01", 4, uai=LYCEE_A), absence("2026-02", 4, uai=LYCEE_B)], CLOCK)
    assert case["opened_on"] == d("2026-02-28") and len(case["evidence"]) == 2
    assert case["assigned_to"] == {"role": "OBSERVATOIRE", "code": "OBS-86"}  # Lycée B has no CTI
    # Within one month too (a move in the middle of it): 6 + 5 ≥ 10.
    case = one([absence("2026-03", 6, uai=LYCEE_A), absence("2026-03", 5, uai=LYCEE_B)], CLOCK)
    assert case["opened_on"] == d("2026-03-31") and len(case["evidence"]) == 2
    assert cases([absence("2026-03", 6, uai=LYCEE_A), absence("2026-03", 3, uai=LYCEE_B)], CLOCK) == []


@pytest.mark.parametrize("ref_a, ref_b", [(1, 2), (2, 1)])
def test_a_month_at_two_establishments_belongs_to_the_one_with_most_half_days(ref_a, ref_b):
    # Same month, same date: the rows' order (their event ids) must not decide.
    a, b = absence("2026-03", 7, uai=LYCEE_A, ref=ref_a), absence("2026-03", 3, uai=LYCEE_B, ref=ref_b)
    for rows in ([a, b], [b, a]):
        assert one(rows, CLOCK)["assigned_to"] == {"role": "CTI_ETAT", "code": "CTI-E-86-01"}  # Lycée A's CTI
    a, b = absence("2026-03", 2, uai=LYCEE_A, ref=ref_a), absence("2026-03", 8, uai=LYCEE_B, ref=ref_b)
    assert one([a, b], CLOCK)["assigned_to"] == {"role": "OBSERVATOIRE", "code": "OBS-86"}  # Lycée B: no CTI


@pytest.mark.parametrize("ref_a, ref_b", [(1, 2), (2, 1)])
def test_the_owner_is_decided_once_every_row_of_the_month_is_in(ref_a, ref_b):
    """Found by a review: the case opened at the first row that reached a threshold and
    kept that row's establishment, so the event ids decided when both rows reach it."""
    rows = [absence("2026-03", 10, uai=LYCEE_A, ref=ref_a), absence("2026-03", 12, uai=LYCEE_B, ref=ref_b)]
    case = one(rows, CLOCK)
    assert case["assigned_to"] == {"role": "OBSERVATOIRE", "code": "OBS-86"}  # Lycée B: no CTI
    assert (case["opened_on"], len(case["evidence"])) == (d("2026-03-31"), 2)
    rows = [absence("2026-02", 4, uai=LYCEE_A), absence("2026-03", 4, uai=LYCEE_A, ref=ref_a),
            absence("2026-03", 6, uai=LYCEE_B, ref=ref_b)]
    assert one(rows, CLOCK)["assigned_to"] == {"role": "OBSERVATOIRE", "code": "OBS-86"}
    rows = [absence("2026-03", 12, uai=LYCEE_A, ref=ref_a), absence("2026-03", 10, uai=LYCEE_B, ref=ref_b)]
    assert one(rows, CLOCK)["assigned_to"] == {"role": "CTI_ETAT", "code": "CTI-E-86-01"}  # Lycée A's CTI


def test_a_cloture_about_another_establishment_does_not_close_the_case():
    # inputs.md §5: "the CTI closes its prevention case" — not another establishment's.
    case = one([cti(d("2026-02-03")), cti(d("2026-04-01"), kind="CLOTURE", uai=LYCEE_B)], CLOCK)
    assert (case["status"], case["closed_on"]) == ("OUVERT", None)
    case = one([cti(d("2026-02-03")), cti(d("2026-04-01"), kind="CLOTURE", uai=LYCEE_B),
                cti(d("2026-04-02"), kind="CLOTURE", ref=1)], CLOCK)
    assert (case["status"], case["outcome"], case["closed_on"]) == ("CLOS", "CLOTURE_CTI", d("2026-04-02"))


def test_absence_report_dated_after_the_clock_waits_for_it():
    evs = [absence("2026-03", 12)]
    res = run(evs, d("2026-03-30"))
    assert res.cases == [] and res.next_deadline == d("2026-03-31")


def test_cti_reperage_opens_on_the_report_date():
    case = one([cti(d("2026-02-03"))], CLOCK)
    assert case["opened_on"] == d("2026-02-03")
    assert case["case_id"] == case_id(KEY, "PREVENTION", d("2026-02-03"))
    assert evidence_types(case) == ["SIGNALEMENT_CTI"]


def test_cti_suivi_alone_opens_nothing():
    assert cases([cti(d("2026-02-03"), kind="SUIVI")], CLOCK) == []


def test_further_signals_attach_to_the_open_case():
    evs = [cti(d("2026-02-03")), absence("2026-02", 12), cti(d("2026-03-05"), kind="SUIVI"), cti(d("2026-03-06"), ref=1)]
    case = one(evs, CLOCK)
    assert case["opened_on"] == d("2026-02-03")
    assert evidence_types(case) == ["SIGNALEMENT_CTI", "ABSENTEISME_MENSUEL", "SIGNALEMENT_CTI", "SIGNALEMENT_CTI"]


def test_closed_by_cti_cloture():
    case = one([cti(d("2026-02-03")), cti(d("2026-04-01"), kind="CLOTURE")], CLOCK)
    assert (case["status"], case["outcome"], case["closed_on"]) == ("CLOS", "CLOTURE_CTI", d("2026-04-01"))


def test_closed_when_the_pupil_leaves_that_establishment_and_exit_rule_applies():
    evs = [cti(d("2026-02-03")), sorti(d("2026-03-02"), uai=LYCEE_A)]
    prevention, exit_case = cases(evs, CLOCK)
    assert (prevention["status"], prevention["outcome"], prevention["closed_on"]) == ("CLOS", "SORTIE", d("2026-03-02"))
    assert (exit_case["type"], exit_case["opened_on"]) == ("OBLIGATION_FORMATION", d("2026-04-01"))


@pytest.mark.parametrize("signal", ["cti", "absence"])
def test_a_signal_on_the_day_the_pupil_leaves_opens_the_case_and_the_exit_closes_it(signal):
    # Absences are dated the month's last day, often the exit's day too (30 June).
    day = d("2026-03-31")
    trigger = cti(day) if signal == "cti" else absence("2026-03", 10)
    evs = [sorti(day, uai=LYCEE_A, motif="05"), trigger]
    prevention, exit_case = cases(evs, CLOCK)
    assert (prevention["type"], prevention["opened_on"]) == ("PREVENTION", day)
    assert (prevention["status"], prevention["outcome"], prevention["closed_on"]) == ("CLOS", "SORTIE", day)
    assert evidence_types(prevention)[-1] == "ELEVE_SORTI"
    assert exit_case["type"] == "OBLIGATION_FORMATION"


def test_a_case_signalled_after_an_exit_closes_on_a_later_exit_from_that_establishment():
    # The Rectorat saw the pupil leave in December; the CTI signals them there in
    # January; they leave again in March. That second exit opens no exit case (one is
    # already counted from the first) but the pupil does leave: "closed ... when the
    # pupil leaves that establishment".
    evs = [inscrit(d("2025-09-01")), sorti(d("2025-12-01"), "05"), cti(d("2026-01-15")),
           sorti(d("2026-03-01"), "06", ref=1)]
    prevention = [c for c in cases(evs, CLOCK) if c["type"] == "PREVENTION"]
    assert [(c["status"], c["outcome"], c["closed_on"]) for c in prevention] == [("CLOS", "SORTIE", d("2026-03-01"))]
    without_the_second_exit = [c for c in cases(evs[:3], CLOCK) if c["type"] == "PREVENTION"]
    assert [c["status"] for c in without_the_second_exit] == ["OUVERT"]


def test_leaving_another_establishment_does_not_close_it():
    case = one([cti(d("2026-02-03")), sorti(d("2026-03-02"), uai=LYCEE_B, motif="07")], CLOCK)
    assert case["status"] == "OUVERT"


def test_new_trigger_after_closure_opens_a_new_case():
    evs = [cti(d("2026-02-03")), cti(d("2026-03-01"), kind="CLOTURE"), cti(d("2026-04-10"), ref=1)]
    first, second = cases(evs, CLOCK)
    assert first["status"] == "CLOS" and second["status"] == "OUVERT"
    assert second["opened_on"] == d("2026-04-10")


def test_prevention_at_16_but_not_the_day_before():
    dob = d("2010-02-03")  # 16 on 2026-02-03
    assert one([cti(d("2026-02-03"), dob=dob)], CLOCK)["type"] == "PREVENTION"
    assert cases([cti(d("2026-02-02"), dob=dob)], CLOCK) == []


def test_prevention_belongs_to_the_establishment_and_never_moves():
    evs = [cti(d("2026-02-03"), uai=LYCEE_17), ml(d("2026-03-01"), "PREMIER_ACCUEIL", commune="86041")]
    case = one(evs, CLOCK)
    assert case["observatoire"] == "OBS-17"
    assert case["assigned_to"] == {"role": "CTI_ETAT", "code": "CTI-E-17-01"}
    assert case["transfers"] == []
    assert case["person"]["commune_residence"] == "86041"


def test_counsellor_solution_resolves_a_prevention_case():
    cid = case_id(KEY, "PREVENTION", d("2026-02-03"))
    evs = [cti(d("2026-02-03")), action(d("2026-02-10"), cid, "SOLUTION_CONSEILLER", "RETOUR_SCOLAIRE")]
    case = one(evs, CLOCK)
    assert (case["status"], case["outcome"]) == ("RESOLU", "RETOUR_SCOLAIRE")


def test_prevention_and_exit_cases_coexist_for_different_establishments():
    evs = [cti(d("2026-02-03")), sorti(d("2026-02-10"), uai=LYCEE_B)]
    types = sorted(c["type"] for c in cases(evs, CLOCK))
    assert types == ["OBLIGATION_FORMATION", "PREVENTION"]


def test_an_action_on_a_prevention_case_that_an_earlier_signal_absorbed_applies_to_it():
    # The REPERAGE of 04-01 opened a case, the CTI closed it through an action; then
    # absences that opened a case on 02-28 arrive: the report joins that case, and so
    # does the action recorded on the report's case.
    later = case_id(KEY, "PREVENTION", d("2026-04-01"))
    evs = [cti(d("2026-04-01")), action(d("2026-04-03"), later, "SOLUTION_CONSEILLER", "FORMATION")]
    assert one(evs, CLOCK)["case_id"] == later
    case = one([absence("2026-01", 4), absence("2026-02", 5), *evs], CLOCK)
    assert (case["opened_on"], case["status"], case["outcome"]) == (d("2026-02-28"), "RESOLU", "FORMATION")


@pytest.mark.parametrize("months", [[("2026-01", 4), ("2026-02", 5)], [("2026-02", 10)]])
def test_an_action_on_a_prevention_case_that_an_earlier_report_absorbed_applies_to_it(months):
    # The other way round: absences opened a case on 02-28 and a counsellor resolved it;
    # then a CTI report of 02-03 arrives, whose case the absences now join — with the
    # action recorded on theirs.
    later = case_id(KEY, "PREVENTION", d("2026-02-28"))
    evs = [*(absence(m, n) for m, n in months), action(d("2026-03-03"), later, "SOLUTION_CONSEILLER", "FORMATION")]
    assert one(evs, CLOCK)["case_id"] == later
    case = one([cti(d("2026-02-03")), *evs], CLOCK)
    assert (case["opened_on"], case["status"], case["outcome"]) == (d("2026-02-03"), "RESOLU", "FORMATION")
