"""Prevention → `PREVENTION` (rules.md §5).

Law: Code de l'éducation L131-8 (the head of establishment acts on unjustified absences;
the threshold of four half-days in a month), and the CTI État's detection role in
vocational lycées.

Rule as implemented:

- **Age**: only for a person aged 16 or more *at the opening date* — no deferral to the
  birthday: prevention is about the present. A signal at 15 never opens a case later.
- **Triggers**:
  - `ABSENTEISME_MENSUEL` with ≥ absence_one_month_threshold (10) unjustified half-days in
    one month → opening date = that month's last day (the event's date);
  - ≥ absence_two_months_threshold (4) in *each* of two consecutive calendar months
    (month M−1 and M, e.g. December and January; June and September are not
    consecutive) → opening date = the last day of the second month;
  - a CTI `SIGNALEMENT_CTI` of type `REPERAGE` → opening date = the report's date.
  Absences are counted **per person** and month, as the rule is written: a pupil who
  changed school between the two months (or within one) has the half-days of both
  establishments added — seeing across establishments is what the hub is for. Two rows
  for the same establishment and month (a corrected export) count as the larger of the
  two.
- **Belongs to the establishment** of the triggering report (routed by its UAI; no
  moves); for absenteeism, the establishment with the most unjustified half-days in the
  opening month (a tie: the later row in the timeline, i.e. by event id), whatever
  order the rows of that month arrive in: the case opens at the first row that reaches
  a threshold, and the rows after it, all dated the same last day of the month, can
  still give it to another establishment that day.
- **One open prevention case per person**: while it is open, further signals attach as
  evidence — absenteeism rows with at least one unjustified half-day, CTI `REPERAGE` and
  `SUIVI` reports — whatever their establishment.
- **Closed `CLOS`**: by a CTI `CLOTURE` report about the case's establishment (outcome
  `CLOTURE_CTI`; inputs.md §5: "the CTI closes *its* prevention case" — a report naming
  another establishment closes nothing, as the case is not its CTI's), or when the
  pupil leaves that establishment —
  an `ELEVE_SORTI` of its UAI, whatever the reason, or a `SORTIE_CFA` of that UAI for a
  case opened in a CFA — (outcome `SORTIE`; the exit rule handles that exit on its own).
  `closed_on` = the report's or the exit's date. A closure dated after the clock applies
  as soon as it is known; a `CLOTURE` with no open case does nothing.
- After closure, a new trigger opens a new case (new opening date, new case id); months
  already counted can count again with a new month (Feb+Mar after a case opened on
  Jan+Feb and closed in March): absenteeism that goes on is a new signal.
- Never resolved by the §4 situation (no `RESOLU` except by `SOLUTION_CONSEILLER`).
"""

from __future__ import annotations

from hub.types.cases import CLOS, PREVENTION

from .age import age_at, month_index
from .timeline import START

REPERAGE = "REPERAGE"
SUIVI = "SUIVI"
CLOTURE = "CLOTURE"
CLOTURE_CTI = "CLOTURE_CTI"
SORTIE = "SORTIE"


def _month(ev: dict) -> int:
    mois = ev.get("mois")
    if mois and len(mois) >= 7:
        try:
            return int(mois[:4]) * 12 + int(mois[5:7]) - 1
        except ValueError:
            pass
    return month_index(ev["event_date"])


def on_absence(sim, k: int, ev: dict) -> None:
    count = ev.get("demi_journees_non_justifiees") or 0
    uai = ev.get("uai")
    month = _month(ev)
    key = (uai, month)
    known = sim.absences.get(key)
    if known is None or count > known[0]:
        sim.absences[key] = (count, k)
    case = sim.open.get(PREVENTION)
    if case is not None:
        if count > 0:
            case.evidence.append(k)
            if case.opened_on == ev["event_date"]:
                # Opened today by this month's rows (nothing else opens a prevention case
                # before the day's absences: timeline ranks), at the first row that
                # reached a threshold; every row of the month is dated today, and the
                # establishment with the most half-days, once all are in, owns it.
                _own(sim, case, max(_rows(sim, month))[2])
            elif sim.tl.action_case_ids and _reached(sim, month) is not None:
                # The case these absences would have opened joins this one (Sim.absorb).
                sim.absorb(case, [], PREVENTION, ev["event_date"])
        return
    reached = _reached(sim, month)
    if reached is not None:
        owner, evidence = reached
        sim.at(ev["event_date"], START, _open, owner, evidence)


def _reached(sim, month: int) -> tuple[str | None, list[int]] | None:
    """(establishment, evidence) of the case the absences known for `month` open: at
    least 10 unjustified half-days in it, or 4 in it and 4 in the month before; else
    None. The month's establishment with the most half-days (then the latest row) owns
    it."""
    this_month = _rows(sim, month)
    total = sum(n for n, _, _ in this_month)
    owner = max(this_month)[2]
    if total >= sim.abs_one:
        return owner, [j for n, j, _ in this_month if n > 0]
    if total >= sim.abs_two:
        before = _rows(sim, month - 1)
        if sum(n for n, _, _ in before) >= sim.abs_two:
            return owner, [j for n, j, _ in before + this_month if n > 0]
    return None


def _rows(sim, month: int) -> list[tuple[int, int, str | None]]:
    """(unjustified half-days, event, establishment) of every establishment's row for
    `month`, in the order of the timeline."""
    return sorted(((n, k, uai) for (uai, m), (n, k) in sim.absences.items() if m == month), key=lambda v: v[1])


def on_cti(sim, k: int, ev: dict) -> None:
    kind = ev.get("type")
    case = sim.open.get(PREVENTION)
    if kind == CLOTURE:
        if case is not None and case.uai == ev.get("uai"):
            sim.finish(case, CLOS, CLOTURE_CTI, ev["event_date"], k)
    elif case is not None:
        if kind == REPERAGE:
            sim.absorb(case, [k], PREVENTION, ev["event_date"])
        else:
            case.evidence.append(k)
    elif kind == REPERAGE:
        sim.at(ev["event_date"], START, _open, ev.get("uai"), [k])


def on_leave(sim, k: int, uai: str | None) -> None:
    case = sim.open.get(PREVENTION)
    if case is not None and uai is not None and case.uai == uai:
        sim.finish(case, CLOS, SORTIE, sim.tl.dates[k], k)


def _own(sim, case, uai: str | None) -> None:
    if uai != case.uai:
        case.uai = uai
        case.observatoire, case.role, case.code = sim.routing(PREVENTION, case.commune, uai)


def _open(sim, uai: str | None, evidence: list[int]) -> None:
    opening = sim.now_date
    if age_at(sim.dob, opening) < sim.min_age:
        return
    case = sim.open.get(PREVENTION)
    if case is not None:
        sim.absorb(case, evidence, PREVENTION, opening)
        return
    sim.new_case(PREVENTION, opening, uai, False, None, evidence)
