"""rules.md §3 (clock), §5 "General", §6 moves, §7 statuses, §8 retention; the evaluate() API."""

from __future__ import annotations

from hub.rules import Evaluation, evaluate
from hub.settings import RulesConfig
from hub.types.cases import OUTCOMES_CLOS, OUTCOMES_RESOLU, STATUSES

from .builders import (
    BUXEROLLES,
    CHATELLERAULT,
    CONFIG,
    DIRECTORY,
    KEY,
    LA_ROCHELLE,
    LYCEE_A,
    NIORT,
    POITIERS,
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
    sorti,
)

D = d("2026-01-10")
O = d("2026-02-09")


def test_no_clock_means_no_case():
    res = run([sorti(D), cti(D)], None)
    assert res == Evaluation([], None, [])


def test_clock_before_opening_gives_nothing_and_the_opening_as_next_deadline():
    res = run([sorti(D)], D)
    assert res.cases == [] and res.next_deadline == O


def test_nothing_to_wait_for():
    res = run([inscrit(d("2025-09-02"))], d("2026-01-01"))
    assert res == Evaluation([], None, [])
    assert run([], d("2026-01-01")) == Evaluation([], None, [])


def test_duplicates_and_order_do_not_matter():
    evs = [inscrit(d("2025-09-02")), sorti(D), ml(d("2026-03-01"), "ENTREE_ACCOMPAGNEMENT"), cti(d("2026-01-05"))]
    reference = run(evs, d("2026-04-01"))
    assert run(list(reversed(evs)) + evs, d("2026-04-01")) == reference
    # PREVENTION closed by the exit (2), OBLIGATION_FORMATION resolved by the ML (2).
    assert [(c["type"], len(c["evidence"])) for c in reference.cases] == [("PREVENTION", 2), ("OBLIGATION_FORMATION", 2)]


def test_two_copies_of_one_event_id_show_the_first_copy_met():
    """timeline.py: duplicates by event_id keep the first copy met (the worker passes one)."""
    first = sorti(D)
    again = {**first, "source_ref": "api:inst-rectorat"}
    assert [e["source_ref"] for e in one([first, again], O)["evidence"]] == [first["source_ref"]]
    assert [e["source_ref"] for e in one([again, first], O)["evidence"]] == ["api:inst-rectorat"]


def test_cases_come_sorted_by_opening_date_then_type():
    """evaluate(): cases sorted by (opened_on, type, case_id), whatever order they opened
    in: here the rupture's gate, scheduled first, opens before the exit's on the same day."""
    evs = [rompu(d("2024-01-10")), sorti(d("2024-02-01"))]  # both deferred to the 16th birthday
    found = cases(evs, d("2024-06-01"))
    assert [(c["type"], c["opened_on"]) for c in found] == [
        ("OBLIGATION_FORMATION", d("2024-05-10")), ("RUPTURE", d("2024-05-10"))]


def test_case_record_has_exactly_the_interface_keys():
    case = one([sorti(D)], O)
    assert list(case) == [
        "case_id", "type", "status", "outcome", "observatoire", "assigned_to", "person", "opened_on",
        "alerted_on", "closed_on", "periode_essai", "evidence", "transfers",
    ]
    assert set(case["person"]) == {"ine", "nom", "prenom", "date_naissance", "commune_residence"}
    assert set(case["evidence"][0]) == {"event_type", "event_date", "source", "source_ref"}
    assert case["evidence"][0]["source_ref"].startswith("rectorat-")


def test_statuses_and_outcomes_are_the_spec_values():
    evs = [sorti(D), rompu(d("2026-02-01")), cti(d("2026-02-02")), cti(d("2026-03-01"), kind="CLOTURE")]
    for case in cases(evs, d("2026-12-31")):
        assert case["status"] in STATUSES
        assert case["outcome"] is None or case["outcome"] in (*OUTCOMES_RESOLU, *OUTCOMES_CLOS)


# -- identity shown on the case --------------------------------------------------------


def test_person_is_the_latest_known_identity():
    e1 = sorti(D)
    e2 = ml(d("2026-03-01"), "PREMIER_ACCUEIL", commune=CHATELLERAULT)
    e2["person"]["nom"] = "DUPONT-MARTIN"
    e2["person"]["ine"] = None
    case = one([e1, e2], d("2026-04-01"))
    assert case["person"]["ine"] == KEY  # INE if any event has one
    assert case["person"]["nom"] == "DUPONT-MARTIN"
    assert case["person"]["commune_residence"] == CHATELLERAULT


def test_a_counsellors_action_is_no_source_of_identity_or_residence():
    """timeline.py: an action carries a copy of the case's identity, maybe stale."""
    from .builders import action

    e1 = sorti(D)
    stale = action(d("2026-03-01"), "c-unknown", "CONTACTE")
    stale["person"] = {**stale["person"], "nom": "ANCIEN", "ine": "999999999ZZ", "commune_residence": LA_ROCHELLE}
    case = one([e1, stale], d("2026-04-01"))
    assert (case["person"]["nom"], case["person"]["ine"]) == ("DUPONT", KEY)
    assert case["person"]["commune_residence"] == POITIERS
    assert case["observatoire"] == "OBS-86"


def test_person_without_ine():
    evs = [sorti(D, ine=None)]
    assert one(evs, O, key="n-abc")["person"]["ine"] is None


# -- §6 routing and moves ----------------------------------------------------------------


def test_routed_by_the_residence_known_at_the_opening_date():
    evs = [sorti(D, commune=LA_ROCHELLE), ml(d("2026-01-20"), "PREMIER_ACCUEIL", commune=CHATELLERAULT)]
    case = one(evs, O)
    assert (case["observatoire"], case["assigned_to"]["code"]) == ("OBS-86", "ML-86-CHA")
    assert case["transfers"] == []


def test_unknown_or_uncovered_residence_routes_by_the_establishment():
    case = one([sorti(D, commune=None)], O)
    assert (case["observatoire"], case["assigned_to"]["code"]) == ("OBS-86", "ML-86-POI")
    case = one([sorti(D, commune=NIORT)], O)
    assert case["observatoire"] == "OBS-86"


def test_move_to_another_observatory_transfers_the_open_case():
    move = d("2026-03-01")
    evs = [sorti(D), ml(move, "PREMIER_ACCUEIL", commune=LA_ROCHELLE)]
    case = one(evs, d("2026-03-15"))
    assert case["observatoire"] == "OBS-17"
    assert case["assigned_to"] == {"role": "MISSION_LOCALE", "code": "ML-17-LR"}
    assert case["transfers"] == [
        {"date": move, "from_observatoire": "OBS-86", "to_observatoire": "OBS-17", "reason": "DEMENAGEMENT"}
    ]
    assert evidence_types(case) == ["ELEVE_SORTI", "JEUNE_ML"]


def test_move_to_another_counsellor_in_the_same_observatory_reassigns_without_transfer():
    case = one([sorti(D), ml(d("2026-03-01"), "PREMIER_ACCUEIL", commune=CHATELLERAULT)], d("2026-03-15"))
    assert (case["observatoire"], case["assigned_to"]["code"]) == ("OBS-86", "ML-86-CHA")
    assert case["transfers"] == []  # a transfer is between observatories (rules.md §6)
    assert evidence_types(case) == ["ELEVE_SORTI", "JEUNE_ML"]  # the move changed the case


def test_move_within_the_same_mission_locale_is_no_transfer():
    case = one([sorti(D), ml(d("2026-03-01"), "PREMIER_ACCUEIL", commune=BUXEROLLES)], d("2026-03-15"))
    assert case["transfers"] == [] and case["assigned_to"]["code"] == "ML-86-POI"


def test_moves_back_and_forth_are_each_recorded():
    evs = [
        sorti(D),
        ml(d("2026-03-01"), "PREMIER_ACCUEIL", commune=LA_ROCHELLE),
        ml(d("2026-03-20"), "SITUATION", "SANS_SOLUTION", commune=POITIERS),
    ]
    case = one(evs, d("2026-04-01"))
    assert [t["to_observatoire"] for t in case["transfers"]] == ["OBS-17", "OBS-86"]
    assert case["observatoire"] == "OBS-86"


def test_no_transfer_after_the_case_is_closed():
    evs = [sorti(D), signe(d("2026-02-20")), ml(d("2026-03-01"), "PREMIER_ACCUEIL", commune=LA_ROCHELLE)]
    case = one(evs, d("2026-04-01"))
    assert case["status"] == "RESOLU" and case["transfers"] == [] and case["observatoire"] == "OBS-86"
    assert case["person"]["commune_residence"] == LA_ROCHELLE


def test_move_dated_after_the_clock_applies_when_known():
    case = one([sorti(D), ml(d("2026-03-01"), "PREMIER_ACCUEIL", commune=LA_ROCHELLE)], O)
    assert case["observatoire"] == "OBS-17"


# -- §8 retention ----------------------------------------------------------------------


def test_closed_case_is_erased_after_24_months():
    evs = [sorti(D), signe(d("2026-03-15"))]
    erase = d("2028-03-15")
    res = run(evs, erase - days(1))
    assert [c["status"] for c in res.cases] == ["RESOLU"]
    assert res.next_deadline == erase
    res = run(evs, erase)
    assert res.cases == []
    assert res.erased == [one(evs, d("2026-04-01"))["case_id"]]
    assert res.next_deadline is None


def test_a_clos_case_is_erased_after_24_months_too():
    evs = [cti(d("2026-03-02")), cti(d("2026-04-02"), "CLOTURE")]
    erase = d("2028-04-02")
    res = run(evs, erase - days(1))
    assert [(c["status"], c["outcome"]) for c in res.cases] == [("CLOS", "CLOTURE_CTI")]
    assert res.next_deadline == erase
    res = run(evs, erase)
    assert res.cases == [] and len(res.erased) == 1


def test_open_case_is_never_erased():
    res = run([sorti(D, dob=d("2000-06-01"))], d("2035-01-01"))
    assert [c["status"] for c in res.cases] == ["OUVERT"] and res.erased == []


# -- configuration and routing ------------------------------------------------------------


def test_configurable_numbers():
    config = RulesConfig(grace_days=45, absence_one_month_threshold=8)
    assert one([sorti(D)], d("2026-06-01"), config=config)["opened_on"] == D + days(45)
    assert one([_absence(8)], d("2026-06-01"), config=config)["type"] == "PREVENTION"


def _absence(n):
    from .builders import absence

    return absence("2026-03", n)


def test_default_routing_is_the_directory_module():
    res = evaluate(KEY, [sorti(D, uai=LYCEE_A)], O, DIRECTORY, CONFIG)
    case = res.cases[0]
    assert case["observatoire"] == "OBS-86"
    assert case["assigned_to"] == {"role": "MISSION_LOCALE", "code": "ML-86-POI"}
    res = evaluate(KEY, [rompu(D)], D, DIRECTORY, CONFIG)
    assert res.cases[0]["assigned_to"] == {"role": "CTI_REGION", "code": "CTI-R-86-02"}
