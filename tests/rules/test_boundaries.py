"""Boundaries, same-day order and details of rules.md §1 and §3–§6 that a mutation audit
of the rule core (183 mutants) found no test for: each test here fails on a small change
of the rule (named by the audit's id in its docstring) that the rest of the suite let
pass. Tests marked "pins a choice" fix a behaviour the code documents where rules.md
leaves it open.
"""

from __future__ import annotations

from hub.identity import case_id, name_key
from hub.validation import departement_of
from tests.rules.builders import (
    CFA,
    CHATELLERAULT,
    KEY,
    LA_ROCHELLE,
    LYCEE_A,
    LYCEE_B,
    POITIERS,
    absence,
    action,
    cases,
    cti,
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

D = d("2026-01-10")  # exit / rupture date
O = d("2026-02-09")  # D + 30: exit opening
CLOSE = D + days(180)  # 2026-07-09
LATER = d("2026-04-30")
ADULT = d("2006-06-01")
OTHER_CFA = "0170099Z"


def _by_type(found):
    return {c["type"]: c for c in found}


# -- §5 rupture: deadlines, trial period, deferral ----------------------------------------


def test_solution_dated_day_180_wins_over_the_closure():
    """R22: the 180-day closure runs at the *end* of D+180 ("still open at D+180")."""
    case = one([rompu(D), signe(CLOSE, numero="C2")], CLOSE)
    assert (case["type"], case["status"], case["outcome"], case["closed_on"]) == (
        "RUPTURE", "RESOLU", "APPRENTISSAGE", CLOSE)


def test_a_deadline_on_the_day_its_case_is_resolved_is_dropped():
    """engine.Sim.result: the 150-day alert of a rupture resolved on D+150 (by a contract
    known before the clock got there) cannot act, so it is no next_deadline; retention is."""
    res = run([rompu(D), signe(D + days(150), numero="C2")], d("2026-03-01"))
    assert [(c["status"], c["closed_on"]) for c in res.cases] == [("RESOLU", D + days(150))]
    assert res.next_deadline == d("2028-06-09")


def test_periode_essai_counts_from_the_contract_start_not_its_signature():
    """R04: signed 100 days before the rupture, started 10 days before: within 45 days."""
    ev = rompu(D)
    ev["date_debut_contrat"] = None
    evs = [signe(D - days(100), numero="C1", debut=D - days(10)), ev]
    assert one(evs, D)["periode_essai"] is True


def test_deferred_rupture_whose_16th_birthday_is_day_180_goes_straight_to_the_exit_rule():
    """R07: 16 exactly on D+180: the six months are over, no RUPTURE case (pins a choice
    at the boundary: rupture.py "if the six months are over by the 16th birthday")."""
    dob = d("2010-07-09")  # 16 on 2026-07-09 = D + 180
    found = cases([rompu(D, dob=dob)], CLOSE)
    assert [(c["type"], c["opened_on"]) for c in found] == [("OBLIGATION_FORMATION", CLOSE)]


def test_a_re_sent_signature_of_the_broken_contract_is_not_a_new_contract():
    """T16 (pins a choice): the broken contract C1 never counts as a solution again."""
    case = one([rompu(D, numero="C1"), signe(D + days(10), numero="C1")], d("2026-03-01"))
    assert (case["type"], case["status"]) == ("RUPTURE", "OUVERT")


def test_second_rupture_the_day_a_rupture_opened_resolved_is_not_a_second_case():
    """G13: both ruptures give the same case id (person, RUPTURE, D): one case."""
    evs = [ml(d("2025-12-01"), "ENTREE_ACCOMPAGNEMENT"), rompu(D, numero="C1"), rompu(D, numero="C7", ref=1)]
    found = cases(evs, D + days(10))
    assert len(found) == 1
    assert found[0]["case_id"] == case_id(KEY, "RUPTURE", D)
    assert evidence_types(found[0]).count("CONTRAT_ROMPU") == 2


def test_outcome_is_the_most_recent_form_of_solution():
    """T17: at a (deferred) opening where two forms hold, the outcome is the latest one."""
    dob = d("2010-03-01")  # 16 on 2026-03-01
    evs = [rompu(D, dob=dob), ml(D + days(5), "SITUATION", "EMPLOI", dob=dob),
           ml(D + days(20), "ENTREE_ACCOMPAGNEMENT", dob=dob)]
    case = one(evs, d("2026-03-01"))
    assert (case["type"], case["status"], case["outcome"]) == ("RUPTURE", "RESOLU", "ACCOMPAGNEMENT_ML")


def test_counsellor_solution_on_a_closed_case_changes_nothing():
    """G09: a SOLUTION_CONSEILLER after the 180-day closure does not rewrite it."""
    cid = case_id(KEY, "RUPTURE", D)
    evs = [rompu(D), action(CLOSE + days(5), cid, "SOLUTION_CONSEILLER", "EMPLOI")]
    rupture = _by_type(cases(evs, CLOSE + days(10)))["RUPTURE"]
    assert (rupture["status"], rupture["outcome"], rupture["closed_on"]) == ("CLOS", "SANS_SOLUTION", CLOSE)


# -- §5 SORTIE_CFA / §4 contracts ------------------------------------------------------


def test_cfa_exit_with_no_known_residence_is_routed_by_the_cfa():
    """R21: §6 "if it is unknown ... the commune of the establishment or CFA concerned"."""
    s = d("2026-03-01")
    evs = [signe(d("2025-09-01"), numero="C1", dob=ADULT, commune=None), sortie_cfa(s, dob=ADULT, commune=None)]
    case = one(evs, s + days(30))
    assert (case["type"], case["observatoire"]) == ("DECROCHAGE", "OBS-86")
    assert case["assigned_to"] == {"role": "MISSION_LOCALE", "code": "ML-86-POI"}


def test_cfa_exit_naming_one_contract_keeps_another_contract_of_that_cfa():
    """T04: a SORTIE_CFA that names C1 ends C1 only; C2 (same CFA) is still a solution."""
    evs = [signe(d("2025-09-01"), numero="C1", dob=ADULT), signe(d("2025-09-01"), numero="C2", dob=ADULT, ref=1),
           sortie_cfa(D, numero="C1", dob=ADULT)]
    assert cases(evs, LATER) == []


def test_cfa_exit_naming_no_contract_ends_only_that_cfas_contracts():
    """T05: a contract with another CFA is still in force after leaving this CFA."""
    evs = [signe(d("2025-09-01"), numero="C2", uai_cfa=OTHER_CFA, dob=ADULT), sortie_cfa(D, uai_cfa=CFA, dob=ADULT)]
    assert cases(evs, LATER) == []


# -- §4 accompaniment, §5 exit rule ------------------------------------------------------


def test_leaving_one_mission_locale_keeps_the_accompaniment_of_another():
    """T08: SORTIE_ACCOMPAGNEMENT ends the accompaniment of *its* Mission locale only."""
    evs = [sorti(D), ml(D + days(3), "ENTREE_ACCOMPAGNEMENT", code_ml="ML-86-POI"),
           ml(D + days(10), "SORTIE_ACCOMPAGNEMENT", code_ml="ML-17-LR")]
    assert cases(evs, LATER) == []


def test_exit_met_while_a_case_is_open_joins_it_even_once_the_case_is_resolved():
    """E11: the second exit joined the open case; a counsellor's solution then resolves
    it, and the second exit's grace running out opens no other case."""
    cid = case_id(KEY, "OBLIGATION_FORMATION", O)
    evs = [sorti(D), sorti(d("2026-03-01"), uai=LYCEE_B, motif="99", ref=1),
           action(d("2026-03-05"), cid, "SOLUTION_CONSEILLER", "EMPLOI")]
    case = one(evs, LATER)
    assert (case["status"], case["outcome"]) == ("RESOLU", "EMPLOI")
    assert evidence_types(case) == ["ELEVE_SORTI", "ELEVE_SORTI", "ACTION_SUIVI"]


def test_second_exit_while_a_decrochage_is_open_attaches_to_it():
    """G21 (only the random property test saw it): one open exit case, DECROCHAGE too."""
    evs = [sorti(D, dob=ADULT), sorti(d("2026-03-01"), uai=LYCEE_B, motif="99", dob=ADULT, ref=1)]
    case = one(evs, d("2026-06-30"))
    assert (case["type"], case["opened_on"]) == ("DECROCHAGE", O)
    assert evidence_types(case) == ["ELEVE_SORTI", "ELEVE_SORTI"]


def test_interview_on_the_opening_day_counts():
    """G02: openings run at the start of their day, so that day's actions find the case."""
    cid = case_id(KEY, "OBLIGATION_FORMATION", O)
    case = one([sorti(D), action(O, cid, "ENTRETIEN_REALISE")], d("2026-06-30"))
    assert (case["status"], case["alerted_on"]) == ("OUVERT", None)
    assert evidence_types(case) == ["ELEVE_SORTI", "ACTION_SUIVI"]


def test_counsellor_solution_of_an_unknown_kind_does_not_resolve():
    """G08: §7 outcomes only; an unknown kind is evidence, not a resolution."""
    cid = case_id(KEY, "OBLIGATION_FORMATION", O)
    case = one([sorti(D), action(d("2026-03-02"), cid, "SOLUTION_CONSEILLER", "INCONNU")], LATER)
    assert (case["status"], case["outcome"]) == ("OUVERT", None)
    assert evidence_types(case) == ["ELEVE_SORTI", "ACTION_SUIVI"]


# -- §5 prevention --------------------------------------------------------------------


def test_leaving_the_cfa_closes_a_prevention_case_opened_in_that_cfa():
    """P19: "when the pupil leaves that establishment" — a CFA is left by SORTIE_CFA."""
    evs = [cti(d("2026-02-03"), uai=CFA), sortie_cfa(d("2026-03-02"), uai_cfa=CFA)]
    prevention = _by_type(cases(evs, d("2026-06-30")))["PREVENTION"]
    assert (prevention["status"], prevention["outcome"], prevention["closed_on"]) == ("CLOS", "SORTIE", d("2026-03-02"))


def test_prevention_is_never_resolved_by_a_section_4_solution():
    """P21: a prevention case closes by CLOTURE or by leaving, not by enrolling elsewhere."""
    case = one([cti(d("2026-02-03")), inscrit(d("2026-03-01"), uai=LYCEE_B)], d("2026-06-30"))
    assert (case["type"], case["status"], case["outcome"]) == ("PREVENTION", "OUVERT", None)


def test_corrected_absence_export_counts_the_larger_row():
    """P07 (pins a choice): two rows for one establishment and month count as the larger,
    whatever their order (both id orders are tried)."""
    for small_ref, big_ref in ((0, 1), (1, 0), (2, 3), (3, 2)):
        evs = [absence("2026-01", 5, ref=big_ref), absence("2026-01", 2, ref=small_ref), absence("2026-02", 4, ref=9)]
        assert one(evs, d("2026-06-30"))["opened_on"] == d("2026-02-28")


def test_absence_row_with_no_unjustified_half_day_is_not_evidence():
    """P09: only rows with at least one unjustified half-day attach to the open case."""
    case = one([cti(d("2026-02-03")), absence("2026-02", 0)], d("2026-06-30"))
    assert evidence_types(case) == ["SIGNALEMENT_CTI"]


def test_cti_reperage_and_cloture_the_same_day():
    """L04 (pins a choice): CLOTURE is the last fact of its day, so it closes that day's case."""
    day = d("2026-02-03")
    case = one([cti(day, kind="CLOTURE"), cti(day, kind="REPERAGE")], d("2026-06-30"))
    assert (case["status"], case["outcome"], case["opened_on"], case["closed_on"]) == ("CLOS", "CLOTURE_CTI", day, day)


def test_counsellor_action_comes_after_the_exit_of_its_day():
    """L05 (pins a choice): actions are last in their day; the exit closed the case first."""
    cid = case_id(KEY, "PREVENTION", d("2026-02-03"))
    evs = [cti(d("2026-02-03")), sorti(d("2026-03-02"), uai=LYCEE_A),
           action(d("2026-03-02"), cid, "SOLUTION_CONSEILLER", "RETOUR_SCOLAIRE")]
    prevention = _by_type(cases(evs, d("2026-06-30")))["PREVENTION"]
    assert (prevention["status"], prevention["outcome"]) == ("CLOS", "SORTIE")
    assert evidence_types(prevention) == ["SIGNALEMENT_CTI", "ELEVE_SORTI", "ACTION_SUIVI"]


# -- §3 order of one day's facts, determinism ---------------------------------------------


def test_enrolled_and_gone_the_same_day_is_gone():
    """L01: ELEVE_INSCRIT before ELEVE_SORTI of the same day and establishment."""
    case = one([inscrit(D, uai=LYCEE_A), sorti(D, uai=LYCEE_A)], LATER)
    assert (case["type"], case["status"]) == ("OBLIGATION_FORMATION", "OUVERT")


def test_contract_signed_and_broken_the_same_day_is_no_solution():
    """L02: CONTRAT_SIGNE before CONTRAT_ROMPU of the same day."""
    evs = [sorti(D, dob=ADULT), signe(D + days(5), numero="C1", dob=ADULT), rompu(D + days(5), numero="C1", dob=ADULT)]
    found = _by_type(cases(evs, LATER))
    assert found["DECROCHAGE"]["status"] == "OUVERT"
    assert found["RUPTURE"]["status"] == "OUVERT"


def test_accompaniment_entered_and_left_the_same_day_is_no_solution():
    """L06: Mission locale entry before exit in the same day."""
    evs = [sorti(D), ml(D + days(5), "ENTREE_ACCOMPAGNEMENT"), ml(D + days(5), "SORTIE_ACCOMPAGNEMENT")]
    assert one(evs, LATER)["status"] == "OUVERT"


def test_same_day_same_rank_events_give_one_result_in_any_input_order():
    """L07: §3 determinism when two facts share date and rank (the event id breaks the tie)."""
    evs = [sorti(D), ml(D + days(5), "SITUATION", "EMPLOI", ref=0), ml(D + days(5), "SITUATION", "SANS_SOLUTION", ref=1)]
    assert run(evs, LATER) == run(list(reversed(evs)), LATER)


# -- §6 routing and moves --------------------------------------------------------------


def test_an_event_without_residence_keeps_the_latest_known_one():
    """L12: "latest known residence commune" — a record without one does not erase it."""
    evs = [sorti(D, commune=CHATELLERAULT), ml(D + days(5), "PREMIER_ACCUEIL", commune=None)]
    case = one(evs, O)
    assert case["person"]["commune_residence"] == CHATELLERAULT
    assert case["assigned_to"]["code"] == "ML-86-CHA"


def test_two_residences_on_the_opening_day_route_by_the_latest_without_transfer():
    """G04: events of the opening day are read by the opening; they are not moves."""
    evs = [sorti(D, commune=POITIERS), ml(O, "PREMIER_ACCUEIL", commune=LA_ROCHELLE),
           ml(O, "SITUATION", "SANS_SOLUTION", commune=POITIERS)]
    case = one(evs, O + days(10))
    assert (case["observatoire"], case["transfers"]) == ("OBS-86", [])


def test_departements_90_to_95_have_two_characters():
    """D10: three characters only for overseas 97x."""
    assert departement_of("95127") == "95"
    assert departement_of("91228") == "91"
    assert departement_of("97411") == "974"


# -- §1 identity ---------------------------------------------------------------------


def test_name_key_keeps_the_whole_first_given_name():
    """I10: "Jean Pierre" (one given name, hyphen lost) is not "Jean"."""
    born = d("2009-02-14")
    assert name_key("Dupont", "Jean Pierre", born) == name_key("DUPONT", "Jean-Pierre", born)
    assert name_key("Dupont", "Jean Pierre", born) != name_key("Dupont", "Jean", born)
