"""rules.md §5 "Apprenticeship rupture" (Code du travail L6222-18, L6222-18-2, L6222-19)."""

from __future__ import annotations

import pytest

from hub.identity import case_id

from .builders import (
    KEY,
    LA_ROCHELLE,
    LYCEE_17,
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

D = d("2026-01-10")
ALERT = D + days(150)  # 2026-06-09
CLOSE = D + days(180)  # 2026-07-09
LYCEE_17_CFA = LYCEE_17  # any establishment of the directory with a CTI serves as a second CFA
MINOR = d("2009-09-01")  # 16 in 2026, still 16 at D+180
ADULT = d("2006-06-01")


def _by_type(found):
    return {c["type"]: c for c in found}


def test_rupture_opens_on_its_date_routed_to_the_cfa_cti():
    evs = [signe(d("2025-09-01"), numero="C1"), rompu(D)]
    assert run(evs, D - days(1)).next_deadline == D
    case = one(evs, D)
    assert case["type"] == "RUPTURE"
    assert case["opened_on"] == D
    assert case["case_id"] == case_id(KEY, "RUPTURE", D)
    assert case["status"] == "OUVERT"
    assert case["assigned_to"] == {"role": "CTI_REGION", "code": "CTI-R-86-02"}
    assert evidence_types(case) == ["CONTRAT_ROMPU"]
    assert run(evs, D).next_deadline == ALERT


def test_diploma_obtained_is_not_a_rupture():
    assert cases([rompu(D, cause="OBTENTION_DIPLOME")], d("2026-12-31")) == []


def test_leaving_the_cfa_with_the_diploma_is_the_exit_reason_04():
    # L313-7 is about leaving without the diploma: the CFA exit after a contract ended
    # for OBTENTION_DIPLOME is an exit with reason 04 (no case at 18–25; OF for a minor).
    done = [signe(d("2024-09-01"), numero="C1", dob=ADULT),
            rompu(D, numero="C1", cause="OBTENTION_DIPLOME", dob=ADULT)]
    assert cases([*done, sortie_cfa(d("2026-01-20"), dob=ADULT)], d("2026-12-31")) == []
    minor = [signe(d("2024-09-01"), numero="C1", dob=MINOR), rompu(D, numero="C1", cause="OBTENTION_DIPLOME", dob=MINOR),
             sortie_cfa(d("2026-01-20"), dob=MINOR)]
    assert [c["type"] for c in cases(minor, d("2026-12-31"))] == ["OBLIGATION_FORMATION"]
    # Any other end of the last contract, or a new contract since: an exit without the diploma.
    broken = [signe(d("2024-09-01"), numero="C1", dob=ADULT), sortie_cfa(d("2026-08-01"), dob=ADULT)]
    assert [c["type"] for c in cases(broken, d("2026-12-31"))] == ["DECROCHAGE"]
    again = [*done, signe(d("2026-01-12"), numero="C2", dob=ADULT), sortie_cfa(d("2026-08-01"), dob=ADULT)]
    assert [c["type"] for c in cases(again, d("2026-12-31"))] == ["DECROCHAGE"]


def test_new_contract_signed_by_the_opening_date_means_no_case():
    assert cases([rompu(D), signe(D, numero="C2")], d("2026-03-01")) == []
    # Deferred opening (rupture at 15): a contract signed before the birthday.
    dob = d("2010-03-01")  # 16 on 2026-03-01
    evs = [rompu(D, dob=dob), signe(d("2026-02-20"), numero="C2", dob=dob)]
    assert cases(evs, d("2026-06-01")) == []


def test_a_contract_signed_before_the_rupture_does_not_prevent_the_case_but_resolves_it():
    # rules.md §5: no case only for "another contract signed on or after D"; but a
    # contract signed before D and not broken off is a solution (§4): resolved at once.
    evs = [signe(d("2024-09-01"), numero="C0"), signe(d("2025-09-01"), numero="C1"), rompu(D, numero="C1")]
    case = one(evs, d("2026-12-31"))
    assert case["case_id"] == case_id(KEY, "RUPTURE", D)
    assert (case["status"], case["outcome"], case["opened_on"], case["closed_on"]) == ("RESOLU", "APPRENTISSAGE", D, D)
    assert evidence_types(case) == ["CONTRAT_SIGNE", "CONTRAT_ROMPU"]  # by event date
    # The broken contract itself is no solution: without C0, the rupture runs its course.
    found = cases(evs[1:], d("2026-12-31"))
    assert [(c["type"], c["status"]) for c in found] == [("RUPTURE", "CLOS"), ("DECROCHAGE", "OUVERT")]


def test_rupture_before_16_opens_on_the_16th_birthday():
    dob = d("2010-03-01")
    evs = [rompu(D, dob=dob)]
    res = run(evs, d("2026-02-28"))
    assert res.cases == [] and res.next_deadline == d("2026-03-01")
    case = one(evs, d("2026-03-01"))
    assert case["opened_on"] == d("2026-03-01")
    # The six months still run from the rupture.
    assert run(evs, d("2026-03-01")).next_deadline == ALERT


def test_two_ruptures_before_16_the_one_without_solution_opens_the_case():
    # Both open on the 16th birthday (within their six months). The first was followed
    # by a training (a solution that resolves it at once), the second by nothing: the
    # young person has no solution, the case is open, and it is the second rupture's
    # (its CFA, its 45 days).
    dob = d("2010-03-01")
    birthday = d("2026-03-01")
    first = rompu(d("2025-12-01"), numero="C1", debut=d("2024-09-02"), dob=dob)
    training = ml(d("2025-12-15"), "SITUATION", "FORMATION", dob=dob, ine=KEY)
    second = rompu(d("2026-01-20"), numero="C2", debut=d("2026-01-05"), uai_cfa=LYCEE_17_CFA, dob=dob)
    assert one([first, training], d("2026-03-15"))["status"] == "RESOLU"
    case = one([first, training, second], d("2026-03-15"))
    assert (case["opened_on"], case["status"], case["outcome"]) == (birthday, "OUVERT", None)
    assert (case["assigned_to"], case["periode_essai"]) == ({"role": "CTI_REGION", "code": "CTI-E-17-01"}, True)
    assert [e["event_date"] for e in case["evidence"]] == [d("2026-01-20")]


def test_a_rupture_kept_only_for_an_action_yields_to_the_one_its_birthday_resolves():
    # Two ruptures before 16, opening on the birthday. A new contract prevents the
    # first's case; the second (of a contract signed alongside) has that contract as a
    # solution that does not prevent its case ("signed on or after D"): it opens
    # resolved. A counsellor's action names the case id: the case is still the
    # second's, as without the action.
    dob = d("2010-03-01")
    birthday = d("2026-03-01")
    first = rompu(d("2025-12-01"), numero="C1", debut=d("2024-09-02"), dob=dob)
    new_contract = signe(d("2025-12-10"), numero="C2", debut=d("2025-12-10"), dob=dob)
    second = rompu(d("2026-01-20"), numero="C3", debut=d("2026-01-05"), uai_cfa=LYCEE_17_CFA, dob=dob)
    evs = [first, new_contract, second]
    assert cases([first, new_contract], d("2026-03-15")) == []
    cid = case_id(KEY, "RUPTURE", birthday)
    expected = (cid, "RESOLU", "APPRENTISSAGE", birthday, {"role": "CTI_REGION", "code": "CTI-E-17-01"}, True)
    for events in (evs, [*evs, action(d("2026-03-05"), cid, "CONTACTE", dob=dob)]):
        case = one(events, d("2026-03-15"))
        assert (case["case_id"], case["status"], case["outcome"], case["closed_on"], case["assigned_to"],
                case["periode_essai"]) == expected


@pytest.mark.parametrize(("offset", "within"), [(0, True), (44, True), (45, False), (46, False)])
def test_periode_essai_is_the_first_45_days(offset, within):
    start = d("2025-11-01")
    case = one([rompu(start + days(offset), debut=start)], start + days(60))
    assert case["periode_essai"] is within


def test_periode_essai_uses_the_signature_when_the_rupture_has_no_start():
    ev = rompu(D)
    ev["date_debut_contrat"] = None
    assert one([signe(D - days(10), numero="C1", debut=D - days(10)), ev], D)["periode_essai"] is True


def test_alerte_at_150_days():
    evs = [rompu(D)]
    assert one(evs, ALERT - days(1))["status"] == "OUVERT"
    case = one(evs, ALERT)
    assert (case["status"], case["alerted_on"]) == ("ALERTE", ALERT)
    assert run(evs, ALERT).next_deadline == CLOSE


def test_solution_on_day_150_wins_over_the_alert():
    case = one([rompu(D), signe(ALERT, numero="C2")], ALERT)
    assert (case["status"], case["outcome"], case["alerted_on"]) == ("RESOLU", "APPRENTISSAGE", None)


def test_resolved_by_a_new_contract():
    case = one([rompu(D), signe(d("2026-03-01"), numero="C2")], d("2026-12-31"))
    assert (case["status"], case["outcome"], case["closed_on"]) == ("RESOLU", "APPRENTISSAGE", d("2026-03-01"))
    assert evidence_types(case) == ["CONTRAT_ROMPU", "CONTRAT_SIGNE"]


def test_resolved_by_another_solution():
    case = one([rompu(D), inscrit(d("2026-02-01"))], d("2026-12-31"))
    assert (case["status"], case["outcome"]) == ("RESOLU", "RETOUR_SCOLAIRE")


def test_closed_without_solution_at_180_days_and_exit_rule_takes_over():
    evs = [rompu(D)]  # 18 at D+180 → DECROCHAGE
    found = cases(evs, CLOSE - days(1))
    assert [(c["type"], c["status"]) for c in found] == [("RUPTURE", "ALERTE")]
    found = _by_type(cases(evs, CLOSE))
    rupture = found["RUPTURE"]
    assert (rupture["status"], rupture["outcome"], rupture["closed_on"]) == ("CLOS", "SANS_SOLUTION", CLOSE)
    handover = found["DECROCHAGE"]
    assert (handover["opened_on"], handover["status"]) == (CLOSE, "OUVERT")
    assert evidence_types(handover) == ["CONTRAT_ROMPU"]  # cites the rupture
    assert handover["assigned_to"]["role"] == "MISSION_LOCALE"


def test_handover_of_a_minor_is_an_obligation_case_with_its_alert():
    evs = [rompu(D, dob=MINOR)]
    handover = _by_type(cases(evs, CLOSE))["OBLIGATION_FORMATION"]
    assert handover["opened_on"] == CLOSE
    assert run(evs, CLOSE).next_deadline == d("2026-10-09")


def test_handover_case_resolved_by_a_later_contract():
    evs = [rompu(D), signe(CLOSE + days(20), numero="C2")]
    found = _by_type(cases(evs, CLOSE + days(30)))
    assert found["RUPTURE"]["outcome"] == "SANS_SOLUTION"
    assert (found["DECROCHAGE"]["status"], found["DECROCHAGE"]["outcome"]) == ("RESOLU", "APPRENTISSAGE")


def test_solution_known_beyond_the_clock_then_deadlines_catch_up():
    evs = [rompu(D), signe(CLOSE + days(20), numero="C2")]
    # Before the deadlines: the contract is known, the rupture reads resolved.
    case = one(evs, d("2026-03-01"))
    assert (case["status"], case["outcome"]) == ("RESOLU", "APPRENTISSAGE")
    assert run(evs, d("2026-03-01")).next_deadline == ALERT


def test_rupture_of_someone_over_25_opens_but_nothing_takes_over():
    old = d("1998-01-01")  # 28
    evs = [rompu(D, dob=old)]
    assert one(evs, D)["type"] == "RUPTURE"
    found = cases(evs, CLOSE)
    assert [(c["type"], c["status"]) for c in found] == [("RUPTURE", "CLOS")]


def test_sortie_cfa_while_open_is_abandon_and_exit_case_opens_at_once():
    s = d("2026-03-01")
    evs = [rompu(D), sortie_cfa(s)]
    found = _by_type(cases(evs, s))
    rupture = found["RUPTURE"]
    assert (rupture["status"], rupture["outcome"], rupture["closed_on"]) == ("CLOS", "ABANDON", s)
    exit_case = found["OBLIGATION_FORMATION"]  # 17 on 2026-03-01
    assert exit_case["opened_on"] == s
    assert evidence_types(exit_case) == ["CONTRAT_ROMPU", "SORTIE_CFA"]


def test_sortie_cfa_dated_after_the_clock_closes_but_exit_case_waits_for_the_clock():
    s = d("2026-03-01")
    evs = [rompu(D), sortie_cfa(s)]
    res = run(evs, d("2026-02-01"))
    assert [(c["type"], c["status"]) for c in res.cases] == [("RUPTURE", "CLOS")]
    assert res.next_deadline == s


def test_sortie_cfa_with_no_rupture_is_an_exit_with_grace():
    s = d("2026-03-01")
    evs = [signe(d("2025-09-01"), numero="C1", dob=ADULT), sortie_cfa(s, dob=ADULT)]
    res = run(evs, s + days(29))
    assert res.cases == [] and res.next_deadline == s + days(30)
    case = one(evs, s + days(30))
    assert (case["type"], case["opened_on"]) == ("DECROCHAGE", s + days(30))
    assert evidence_types(case) == ["SORTIE_CFA"]
    assert case["assigned_to"] == {"role": "MISSION_LOCALE", "code": "ML-86-POI"}


def test_sortie_cfa_after_a_resolved_rupture_is_an_exit():
    evs = [rompu(D, dob=ADULT), signe(d("2026-02-01"), numero="C2", dob=ADULT), sortie_cfa(d("2026-03-01"), dob=ADULT)]
    found = _by_type(cases(evs, d("2026-04-30")))
    assert found["RUPTURE"]["status"] == "RESOLU"
    assert found["DECROCHAGE"]["opened_on"] == d("2026-03-31")


def test_second_rupture_while_open_attaches():
    evs = [rompu(D, numero="C1"), rompu(D + days(3), numero="C7", ref=1)]
    case = one(evs, d("2026-03-01"))
    assert evidence_types(case) == ["CONTRAT_ROMPU", "CONTRAT_ROMPU"]


def test_counsellor_solution_resolves_a_rupture():
    cid = case_id(KEY, "RUPTURE", D)
    case = one([rompu(D), action(d("2026-02-01"), cid, "SOLUTION_CONSEILLER", "FORMATION")], d("2026-12-31"))
    assert (case["status"], case["outcome"]) == ("RESOLU", "FORMATION")


def test_an_action_on_the_case_known_by_name_only_follows_it_to_the_ine():
    # rules.md §1: an INE-less rupture links to the single INE of its name key, and the
    # case's id changes with its person key; the counsellor's solution recorded under the
    # former id (its alias) still resolves the case (§3: the result is the set's).
    alias = "n-name-key-digest"
    cid = case_id(alias, "RUPTURE", D)
    evs = [rompu(D, ine=None), action(d("2026-02-01"), cid, "SOLUTION_CONSEILLER", "FORMATION", ine=None)]
    case = one(evs, d("2026-12-31"), aliases={alias})
    assert case["case_id"] == case_id(KEY, "RUPTURE", D)
    assert (case["status"], case["outcome"]) == ("RESOLU", "FORMATION")
    assert evidence_types(case) == ["CONTRAT_ROMPU", "ACTION_SUIVI"]
    # Without the alias the action is about another case: closed at D+180, handed over.
    found = cases(evs, d("2026-12-31"))
    assert [(c["type"], c["status"]) for c in found] == [("RUPTURE", "CLOS"), ("DECROCHAGE", "OUVERT")]


def test_only_a_new_contract_prevents_the_case_another_solution_resolves_it_at_once():
    # rules.md §5: "No case if by then another contract signed on or after D is in
    # force"; any other solution resolves the case "as soon as" it holds: at opening.
    case = one([ml(d("2025-12-01"), "ENTREE_ACCOMPAGNEMENT"), rompu(D)], d("2026-03-01"))
    assert (case["type"], case["status"], case["outcome"]) == ("RUPTURE", "RESOLU", "ACCOMPAGNEMENT_ML")
    assert (case["opened_on"], case["closed_on"]) == (D, D)
    case = one([inscrit(d("2025-09-02")), rompu(D)], d("2026-03-01"))
    assert (case["status"], case["outcome"], case["closed_on"]) == ("RESOLU", "RETOUR_SCOLAIRE", D)
    # A contract signed before D and in force is no *new* contract, but a solution (test above).


def test_move_to_another_departement_transfers_the_rupture():
    evs = [rompu(D), ml(d("2026-02-01"), "PREMIER_ACCUEIL", commune=LA_ROCHELLE)]
    case = one(evs, d("2026-03-01"))
    assert case["observatoire"] == "OBS-17"
    assert case["transfers"] == [
        {"date": d("2026-02-01"), "from_observatoire": "OBS-86", "to_observatoire": "OBS-17", "reason": "DEMENAGEMENT"}
    ]
    assert case["assigned_to"] == {"role": "CTI_REGION", "code": "CTI-R-86-02"}


def test_an_exit_from_school_during_an_open_rupture_opens_its_own_case():
    # rules.md §5 "at most one open case per person and type": a broken contract is no
    # solution (§4), so the exit rule's case opens beside the rupture (its own counsellor).
    evs = [rompu(D, dob=ADULT), sorti(d("2026-02-01"), motif="99", dob=ADULT)]
    found = _by_type(cases(evs, d("2026-04-01")))
    assert (found["RUPTURE"]["status"], evidence_types(found["RUPTURE"])) == ("OUVERT", ["CONTRAT_ROMPU"])
    dec = found["DECROCHAGE"]
    assert (dec["status"], dec["opened_on"], evidence_types(dec)) == ("OUVERT", d("2026-03-03"), ["ELEVE_SORTI"])
    assert dec["assigned_to"]["role"] == "MISSION_LOCALE"
    # When the rupture ends without solution, its hand-over joins that open exit case.
    found = _by_type(cases(evs, CLOSE))
    assert (found["RUPTURE"]["status"], found["RUPTURE"]["outcome"]) == ("CLOS", "SANS_SOLUTION")
    assert found["DECROCHAGE"]["opened_on"] == d("2026-03-03")
    assert evidence_types(found["DECROCHAGE"]) == ["CONTRAT_ROMPU", "ELEVE_SORTI"]


def test_rupture_and_cfa_exit_the_same_day_is_abandon():
    found = _by_type(cases([rompu(D), sortie_cfa(D)], D))
    assert (found["RUPTURE"]["status"], found["RUPTURE"]["outcome"]) == ("CLOS", "ABANDON")
    assert found["OBLIGATION_FORMATION"]["opened_on"] == D


def test_cfa_exit_for_a_new_contract_the_same_day_resolves_the_rupture():
    s = d("2026-03-01")
    evs = [rompu(D, numero="C1"), signe(s, numero="C2", uai_cfa="0170099Z"), sortie_cfa(s, numero="C1")]
    case = one(evs, d("2026-04-01"))
    assert (case["status"], case["outcome"], case["closed_on"]) == ("RESOLU", "APPRENTISSAGE", s)


def test_deferred_rupture_cancelled_by_leaving_the_cfa_before_16():
    dob = d("2010-03-01")  # 16 on 2026-03-01
    evs = [rompu(D, dob=dob), sortie_cfa(d("2026-01-20"), dob=dob)]
    case = one(evs, d("2026-04-01"))
    # No rupture case; the CFA exit is an exit: grace → 2026-02-19, deferred to the birthday.
    assert (case["type"], case["opened_on"]) == ("OBLIGATION_FORMATION", d("2026-03-01"))
    assert evidence_types(case) == ["SORTIE_CFA"]


def test_deferred_rupture_after_150_days_opens_in_alerte():
    dob = d("2010-07-01")  # 16 on 2026-07-01 = D + 172
    case = one([rompu(D, dob=dob)], d("2026-07-01"))
    assert (case["type"], case["status"], case["alerted_on"]) == ("RUPTURE", "ALERTE", d("2026-07-01"))
    found = _by_type(cases([rompu(D, dob=dob)], CLOSE))
    assert found["RUPTURE"]["outcome"] == "SANS_SOLUTION"
    assert found["OBLIGATION_FORMATION"]["opened_on"] == CLOSE


def test_deferred_rupture_after_the_six_months_goes_straight_to_the_exit_rule():
    dob = d("2010-09-01")  # 16 on 2026-09-01 > D + 180
    found = cases([rompu(D, dob=dob)], d("2026-09-01"))
    assert [(c["type"], c["opened_on"]) for c in found] == [("OBLIGATION_FORMATION", d("2026-09-01"))]
    assert evidence_types(found[0]) == ["CONTRAT_ROMPU"]
