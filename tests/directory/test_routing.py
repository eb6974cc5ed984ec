"""Routing (rules.md §6): one test per line of the counsellor table and per fallback.

Fixture (conftest.SMALL): 86194 and 86041 have ML-86-POI; 86066 is in OBS-86 with no
Mission locale; 79191 has ML-79-NIO; 85191 has ML-79-NIO but no observatory; 33063 has
neither. LP 0860012W (86194, CTI ETAT), CFA 0861433R (86066, CTI REGION), CFA 0791401U
(79191, no CTI), collège 0860161H (86041, no CTI), MFR 0791175Y (79191, CTI REGION),
CFA 0330001X (33063, no CTI), collège 0860183G (86066, no CTI).
"""

from __future__ import annotations

import pytest

from hub.directory import DirectoryIndex, Routing, load_directory, route, territory_commune
from hub.types.cases import CASE_TYPES, DECROCHAGE, HORS_TERRITOIRE, OBLIGATION_FORMATION, PREVENTION, RUPTURE, ROLES

from .conftest import SAMPLE

EXIT_TYPES = (DECROCHAGE, OBLIGATION_FORMATION)


# --- DECROCHAGE, OBLIGATION_FORMATION: the Mission locale, else the observatory ----------

@pytest.mark.parametrize("case_type", EXIT_TYPES)
def test_exit_goes_to_the_mission_locale_of_the_residence(small, case_type):
    # The residence wins over the establishment left (in another observatory here).
    assert route(case_type, "79191", "0860012W", small) == Routing("OBS-79", "MISSION_LOCALE", "ML-79-NIO")


@pytest.mark.parametrize("case_type", EXIT_TYPES)
def test_exit_without_mission_locale_goes_to_the_observatory(small, case_type):
    assert route(case_type, "86066", "0860012W", small) == Routing("OBS-86", "OBSERVATOIRE", "OBS-86")


# --- RUPTURE: the CFA's CTI, else the Mission locale, else the observatory --------------

def test_rupture_goes_to_the_cti_region_of_the_cfa(small):
    # Observatory by residence, counsellor by CFA: both rules apply independently.
    assert route(RUPTURE, "79191", "0861433R", small) == Routing("OBS-79", "CTI_REGION", "CTI-R-86-02")


def test_rupture_without_cti_goes_to_the_mission_locale(small):
    assert route(RUPTURE, "86194", "0791401U", small) == Routing("OBS-86", "MISSION_LOCALE", "ML-86-POI")


def test_rupture_without_cti_nor_mission_locale_goes_to_the_observatory(small):
    assert route(RUPTURE, "86066", "0791401U", small) == Routing("OBS-86", "OBSERVATOIRE", "OBS-86")


def test_rupture_ignores_a_cti_etat(small):
    # A CTI État is not the CTI Région of an apprentice: the fallback applies.
    assert route(RUPTURE, "86194", "0860012W", small) == Routing("OBS-86", "MISSION_LOCALE", "ML-86-POI")


def test_rupture_mission_locale_is_that_of_the_territory_commune(small):
    # Residence outside any observatory → territory is the CFA's commune, and so is the ML.
    assert route(RUPTURE, "33063", "0791401U", small) == Routing("OBS-79", "MISSION_LOCALE", "ML-79-NIO")


def test_rupture_at_an_mfr_with_a_cti_region(small):
    assert route(RUPTURE, "86194", "0791175Y", small) == Routing("OBS-86", "CTI_REGION", "CTI-R-79-01")


# --- PREVENTION: the establishment's CTI, else the observatory ---------------------------

def test_prevention_goes_to_the_cti_etat_of_the_establishment(small):
    # Territory is the establishment's commune: the residence (79) plays no part.
    assert route(PREVENTION, "79191", "0860012W", small) == Routing("OBS-86", "CTI_ETAT", "CTI-E-86-01")


def test_prevention_without_cti_goes_to_the_observatory(small):
    assert route(PREVENTION, "79191", "0860161H", small) == Routing("OBS-86", "OBSERVATOIRE", "OBS-86")


def test_prevention_ignores_a_cti_region(small):
    assert route(PREVENTION, None, "0791175Y", small) == Routing("OBS-79", "OBSERVATOIRE", "OBS-79")


def test_prevention_never_goes_to_a_mission_locale(small):
    # 86041 has a Mission locale, but the table has none for PREVENTION.
    assert route(PREVENTION, "86041", "0860161H", small).assigned_to_role == "OBSERVATOIRE"


def test_prevention_at_an_unknown_establishment_is_hors_territoire(small):
    assert route(PREVENTION, "86194", "0860099Z", small) == Routing(HORS_TERRITOIRE, "OBSERVATOIRE", HORS_TERRITOIRE)


# --- territory fallbacks ---------------------------------------------------------------

@pytest.mark.parametrize("residence", [None, ""])
@pytest.mark.parametrize("case_type", (*EXIT_TYPES, RUPTURE))
def test_unknown_residence_falls_back_to_the_establishment_commune(small, case_type, residence):
    uai = "0791401U" if case_type == RUPTURE else "0860161H"
    expected = (Routing("OBS-79", "MISSION_LOCALE", "ML-79-NIO") if case_type == RUPTURE
                else Routing("OBS-86", "MISSION_LOCALE", "ML-86-POI"))
    assert route(case_type, residence, uai, small) == expected


@pytest.mark.parametrize("case_type", (*EXIT_TYPES, RUPTURE))
def test_residence_outside_every_observatory_falls_back_to_the_establishment_commune(small, case_type):
    assert territory_commune(case_type, "33063", "0860161H", small) == "86041"
    assert route(case_type, "33063", "0860161H", small) == Routing("OBS-86", "MISSION_LOCALE", "ML-86-POI")


def test_establishment_commune_without_mission_locale(small):
    assert route(DECROCHAGE, None, "0860183G", small) == Routing("OBS-86", "OBSERVATOIRE", "OBS-86")


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_nothing_known_is_hors_territoire(small, case_type):
    assert route(case_type, None, None, small) == Routing(HORS_TERRITOIRE, "OBSERVATOIRE", HORS_TERRITOIRE)


@pytest.mark.parametrize("case_type", (*EXIT_TYPES, RUPTURE))
def test_residence_and_establishment_outside_every_observatory_is_hors_territoire(small, case_type):
    assert route(case_type, "33063", "0330001X", small) == Routing(HORS_TERRITOIRE, "OBSERVATOIRE", HORS_TERRITOIRE)
    assert route(case_type, "33063", "0860099Z", small) == Routing(HORS_TERRITOIRE, "OBSERVATOIRE", HORS_TERRITOIRE)
    assert route(case_type, "33063", None, small) == Routing(HORS_TERRITOIRE, "OBSERVATOIRE", HORS_TERRITOIRE)


def test_an_uncovered_residence_gives_way_to_the_establishment_even_an_uncovered_one(small):
    """rules.md §6: "if it is unknown, or no observatory covers its département, the
    commune of the establishment": 85191 (no observatory, but ML-79-NIO lists it) gives
    way to the CFA's 33063, as an unknown residence would — no Mission locale there."""
    assert territory_commune(DECROCHAGE, "85191", "0330001X", small) == "33063"
    assert route(DECROCHAGE, "85191", "0330001X", small) == Routing(HORS_TERRITOIRE, "OBSERVATOIRE", HORS_TERRITOIRE)
    assert route(DECROCHAGE, "85191", "0330001X", small) == route(DECROCHAGE, None, "0330001X", small)


def test_an_uncovered_territory_keeps_its_mission_locale(small):
    # 85191: no observatory, but ML-79-NIO lists it; the queue is HORS_TERRITOIRE, the ML acts.
    assert territory_commune(DECROCHAGE, "85191", "0860099Z", small) == "85191"  # establishment unknown
    assert route(DECROCHAGE, "85191", None, small) == Routing(HORS_TERRITOIRE, "MISSION_LOCALE", "ML-79-NIO")


def test_unknown_establishment_with_a_residence(small):
    assert route(DECROCHAGE, "86194", "0860099Z", small) == Routing("OBS-86", "MISSION_LOCALE", "ML-86-POI")


# --- départements: Corsica and overseas ------------------------------------------------

@pytest.mark.parametrize(("commune", "observatoire"), [("2A004", "OBS-COR"), ("2B033", "OBS-COR"), ("2a004", "OBS-COR")])
def test_corsica(small, commune, observatoire):
    assert route(OBLIGATION_FORMATION, commune, None, small) == Routing(observatoire, "OBSERVATOIRE", observatoire)


def test_overseas_three_digit_departement(small):
    assert route(DECROCHAGE, "97411", None, small) == Routing("OBS-974", "MISSION_LOCALE", "ML-974")
    # 97101 (Guadeloupe, département 971) is not the Réunion's 974.
    assert route(DECROCHAGE, "97101", None, small).observatoire == HORS_TERRITOIRE


# --- misc ------------------------------------------------------------------------------

def test_unknown_case_type(small):
    with pytest.raises(ValueError, match="type de dossier inconnu"):
        route("ABSENCE", "86194", None, small)


def test_roles_are_those_of_the_case_record(small):
    seen = {route(t, r, u, small).assigned_to_role
            for t in CASE_TYPES for r in (None, "86194", "86066") for u in (None, "0860012W", "0861433R")}
    assert seen == set(ROLES)


def test_routing_on_the_sample_matches_the_spec_examples():
    sample = DirectoryIndex(load_directory(SAMPLE))
    cfa_btp = next(e.uai for e in sample.data.etablissements if e.cti == "CTI-R-86-02" and e.type == "CFA")
    # interfaces.md: a RUPTURE for a young person of Poitiers, assigned to CTI-R-86-02.
    assert route(RUPTURE, "86194", cfa_btp, sample) == Routing("OBS-86", "CTI_REGION", "CTI-R-86-02")
    assert route(PREVENTION, "86194", "0860012W", sample) == Routing("OBS-86", "CTI_ETAT", "CTI-E-86-01")
    assert route(DECROCHAGE, "17299", None, sample) == Routing("OBS-17", "MISSION_LOCALE", "ML-17-ROC")
