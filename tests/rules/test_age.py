"""rules.md §2: age in completed years, no case under 16, type by age at the opening date."""

from __future__ import annotations

from datetime import date

import pytest

from hub.rules.age import add_months, age_at, birthday

from .builders import absence, cti, d, days, one, cases, run, sorti


@pytest.mark.parametrize(
    ("dob", "at", "age"),
    [
        ("2008-05-10", "2026-05-09", 17),
        ("2008-05-10", "2026-05-10", 18),
        ("2008-05-10", "2026-12-31", 18),
        ("2008-02-29", "2026-02-28", 17),  # not yet: 29 Feb has not come
        ("2008-02-29", "2026-03-01", 18),
        ("2008-02-29", "2028-02-29", 20),
        ("2008-02-29", "2028-02-28", 19),
    ],
)
def test_age_is_completed_years(dob, at, age):
    assert age_at(d(dob), d(at)) == age


def test_birthday_of_29_february_is_1_march_in_common_years():
    assert birthday(d("2008-02-29"), 16) == d("2024-02-29")  # leap year
    assert birthday(d("2008-02-29"), 18) == d("2026-03-01")
    assert birthday(d("2084-02-29"), 16) == d("2100-03-01")  # 2100 is not leap
    for years in range(14, 30):
        b = birthday(d("2008-02-29"), years)
        assert age_at(d("2008-02-29"), b) == years
        assert age_at(d("2008-02-29"), b - days(1)) == years - 1


def test_add_months_clamps_to_month_end():
    assert add_months(d("2026-01-31"), 1) == d("2026-02-28")
    assert add_months(d("2028-01-31"), 1) == d("2028-02-29")
    assert add_months(d("2026-11-30"), 3) == d("2027-02-28")
    assert add_months(d("2026-02-09"), 3) == d("2026-05-09")
    assert add_months(d("2026-03-15"), 24) == d("2028-03-15")


def test_exit_before_16_opens_on_the_16th_birthday():
    dob = d("2010-03-01")  # 16 on 2026-03-01
    evs = [sorti(d("2025-12-01"), dob=dob)]  # left at 15 and 9 months; D+30 = 2025-12-31
    before = run(evs, d("2026-02-28"))
    assert before.cases == []
    assert before.next_deadline == d("2026-03-01")
    case = one(evs, d("2026-03-01"))
    assert case["opened_on"] == d("2026-03-01")
    assert case["type"] == "OBLIGATION_FORMATION"


def test_29_february_birthdays_in_common_years():
    dob = date(2008, 2, 29)  # 18 on 2026-03-01 (2026 is not leap)
    assert one([sorti(d("2026-01-29"), dob=dob)], d("2026-06-01"))["type"] == "OBLIGATION_FORMATION"  # 28 Feb: 17
    assert one([sorti(d("2026-01-30"), dob=dob)], d("2026-06-01"))["type"] == "DECROCHAGE"  # 1 Mar: 18
    dob = date(2084, 2, 29)  # 16 on 2100-03-01 (2100 is not leap)
    evs = [sorti(d("2099-12-01"), dob=dob)]
    assert run(evs, d("2100-02-28")).next_deadline == d("2100-03-01")
    assert one(evs, d("2100-03-01"))["opened_on"] == d("2100-03-01")


@pytest.mark.parametrize(
    ("dob", "expected"),
    [
        ("2010-02-10", "OBLIGATION_FORMATION"),  # 15 at D+30: deferred to the birthday, 16
        ("2009-06-01", "OBLIGATION_FORMATION"),  # 16
        ("2008-06-01", "OBLIGATION_FORMATION"),  # 17
        ("2008-02-09", "DECROCHAGE"),  # 18 exactly on the opening date
        ("2007-06-01", "DECROCHAGE"),  # 18
        ("2000-02-10", "DECROCHAGE"),  # 25 (26 the next day)
        ("2000-02-09", None),  # 26 exactly on the opening date
        ("1999-06-01", None),  # 26
    ],
)
def test_exit_case_type_by_age_at_the_opening_date(dob, expected):
    # Left on 2026-01-10: opening 2026-02-09 (or the 16th birthday if later).
    found = cases([sorti(d("2026-01-10"), dob=d(dob))], d("2026-06-30"))
    assert [c["type"] for c in found] == ([expected] if expected else [])


def test_age_is_taken_at_the_opening_date_not_at_the_exit():
    # 17 when leaving, 18 at the end of the grace period → DECROCHAGE.
    dob = d("2008-01-20")
    case = one([sorti(d("2026-01-10"), dob=dob)], d("2026-03-01"))
    assert case["type"] == "DECROCHAGE"


def test_type_is_fixed_at_opening():
    # Opened as OBLIGATION_FORMATION at 17; still so after the 18th birthday.
    dob = d("2008-03-01")
    case = one([sorti(d("2026-01-10"), dob=dob)], d("2026-04-01"))
    assert case["type"] == "OBLIGATION_FORMATION"


def test_no_prevention_case_under_16():
    dob = d("2010-06-01")  # 16 on 2026-06-01
    evs = [cti(d("2026-05-31"), dob=dob), absence("2026-05", 12, dob=dob, ref=1)]
    res = run(evs, d("2026-12-31"))
    assert res.cases == []
    # No deferral: the signal at 15 never opens a case at 16.
    assert res.next_deadline is None
