"""Ages and calendar arithmetic (rules.md §2; CNIL deliberation 2010-446; Code de
l'éducation L114-1, L131-1, L313-7).

- Age at a date = completed years: the person is N on the day of their N-th birthday.
- A person born on 29 February completes a year on 1 March in non-leap years: on
  28 February they have not yet completed it (completed years, not "rounded" ones).
  `age_at` and `birthday` agree on this, so `age_at(dob, birthday(dob, n)) == n` and
  `age_at(dob, birthday(dob, n) - 1 day) == n - 1` for every date of birth.
- Calendar months (the 3-month L313-8 deadline, the 24-month retention) keep the day of
  the month and clamp it to the month's last day: 31 January + 1 month = 28/29 February.
"""

from __future__ import annotations

from datetime import date

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and is_leap(year):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def age_at(dob: date, at: date) -> int:
    """Completed years at `at`."""
    years = at.year - dob.year
    if at.month < dob.month or (at.month == dob.month and at.day < dob.day):
        years -= 1
    return years


def birthday(dob: date, years: int) -> date:
    """The first date at which the person is `years` old (29 February → 1 March)."""
    year = dob.year + years
    if dob.month == 2 and dob.day == 29 and not is_leap(year):
        return date(year, 3, 1)
    return date(year, dob.month, dob.day)


def add_months(d: date, months: int) -> date:
    """`d` plus calendar months, the day clamped to the end of the target month."""
    index = d.year * 12 + d.month - 1 + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    day = d.day
    if day > 28:
        day = min(day, days_in_month(year, month))
    return date(year, month, day)


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, days_in_month(year, month))


def month_index(d: date) -> int:
    """A month as one integer, so that consecutive months differ by exactly 1."""
    return d.year * 12 + d.month - 1
