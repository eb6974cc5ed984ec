"""Exit from school → `DECROCHAGE` or `OBLIGATION_FORMATION` (rules.md §5).

Law: Code de l'éducation L313-7 (detection of young people leaving initial education
without the expected diploma), L114-1 (training obligation of every 16–17-year-old),
R114-4 (what meets it), L313-8 (a minor must be received, with a legal representative,
within three months).

Rule as implemented:

- **Trigger**: `ELEVE_SORTI` on date D, any reason except `07` (abroad) and `08` (health).
  An `ELEVE_SORTI` from an establishment the person already left, with no enrolment
  there since, is no exit (one cannot leave twice; engine.py): the earlier one counts,
  with its reason — SIECLE exports ingested out of date order give a disappearance
  (`99`) and, later, the older export's stated exit.
  Also `SORTIE_CFA` when no rupture case is open (rules.md §5 "SORTIE_CFA with no open
  rupture case is an exit like ELEVE_SORTI"). The CFA export gives it no reason: it is
  read as reason `04` when the apprenticeship it ends was completed with the diploma
  (the last contract event of that CFA is a `CONTRAT_ROMPU` for `OBTENTION_DIPLOME`,
  `rupture.diploma_exit`: L313-7 is about leaving without the diploma), else as an exit
  without the diploma.
- **Opening date** O = max(D + grace_days, 16th birthday). If the person has a solution
  at O (situation.py, Mission locale situations counted from D): no case.
- **Type** by age at O: 16–17 → `OBLIGATION_FORMATION` (whatever the reason, `04`
  included: the obligation covers every minor); 18–25 and reason ≠ `04` →
  `DECROCHAGE`; otherwise no case. The type never changes afterwards (a minor's case
  stays `OBLIGATION_FORMATION` after the 18th birthday, its L313-8 deadline included).
- **One exit case at a time**: a trigger met while an exit case (either type) is open —
  at its own date, or at its own opening date — joins that case's evidence instead of
  opening another one. After the case is resolved, a new exit opens a new case.
- **During a rupture** the exit rule applies as ever: rules.md allows "at most one open
  case per person and type", and a broken contract is not one of the four forms of a
  solution (§4), so a young person who left school and lost a contract during the grace
  gets both a `RUPTURE` (the CFA's CTI) and the exit case (the Mission locale). The
  rupture's hand-over then attaches to that exit case.
- **Resolved** (`RESOLU`) at the end of the first day after O on which the person has a
  solution; `closed_on` = that day (the solution event's date), outcome
  `RETOUR_SCOLAIRE`, `APPRENTISSAGE`, `ACCOMPAGNEMENT_ML` or the Mission locale
  situation. A solution dated after the clock resolves the case as soon as it is known.
  A solution dated on or before O means there never was a case (engine.py "Late
  solutions" for the one exception). A counsellor's `SOLUTION_CONSEILLER` resolves it
  too (outcome = its kind).
- **ALERTE (L313-8)**, `OBLIGATION_FORMATION` only: if no `ENTRETIEN_REALISE` action on
  the case is dated on or before O + obligation_alert_months (calendar months, day
  clamped to the month's end), the case turns `ALERTE` at the end of that day, with
  `alerted_on` = that date — once the clock has reached it. Only `ENTRETIEN_REALISE`
  counts: the law says the minor must be *received*; `CONTACTE` and `RDV_PRIS` are
  steps towards it, and `DEJA_ACCOMPAGNE` says someone else follows the young person —
  the counsellor records that as `SOLUTION_CONSEILLER` (e.g. `ACCOMPAGNEMENT_ML`), which
  resolves the case and so moots the alert. An interview after the deadline does not
  undo the alert: the minor was not received within three months, and `alerted_on`
  keeps the trace; the case stays `ALERTE` until resolved.
- **Hand-over from a rupture** (rupture.py): at D+180 (rupture closed `SANS_SOLUTION`) or
  on a `SORTIE_CFA` that closes the rupture (`ABANDON`), the exit rule opens its case on
  that very date (no grace), typed by age then (never `04`: beyond 25 there is none),
  citing the rupture. It keeps the rupture's idea of a solution (contracts other than the
  broken one; Mission locale situations from the rupture date), and attaches to an exit
  case already open.
- **Routing**: residence at O (else the establishment left, or the CFA).
"""

from __future__ import annotations

from datetime import date

from hub.types.cases import DECROCHAGE, OBLIGATION_FORMATION

from .age import add_months, age_at
from .situation import SolutionContext
from .timeline import END, START

EXCLUDED_REASONS = frozenset(("07", "08"))
DIPLOMA_REASON = "04"


def case_type_at(sim, opening: date, diploma: bool) -> str | None:
    """The exit rule's case type for a person at `opening`, or None (rules.md §2, §5)."""
    age = age_at(sim.dob, opening)
    if age < sim.min_age:
        return None
    if age < sim.majority:
        return OBLIGATION_FORMATION
    if age <= sim.max_exit_age and not diploma:
        return DECROCHAGE
    return None


def on_eleve_sorti(sim, k: int, ev: dict) -> None:
    reason = ev.get("motif_sortie")
    if reason in EXCLUDED_REASONS:
        return
    trigger(sim, k, ev["event_date"], reason == DIPLOMA_REASON, ev.get("uai"))


def trigger(sim, k: int, day: date, diploma: bool, uai: str | None) -> None:
    """An exit on `day` (event k): attach, or schedule the opening after the grace."""
    opening = day + sim.grace
    if opening < sim.b16:
        opening = sim.b16
    case = sim.open_exit_case()
    if case is not None:
        sim.absorb(case, [k], case_type_at(sim, opening, diploma), opening)
        return
    sim.at(opening, START, _open, k, day, diploma, uai)


def _open(sim, k: int, day: date, diploma: bool, uai: str | None) -> None:
    opening = sim.now_date
    case = sim.open_exit_case()
    if case is not None:
        sim.absorb(case, [k], case_type_at(sim, opening, diploma), opening)
        return
    case_type = case_type_at(sim, opening, diploma)
    if case_type is None:
        return
    case = sim.open_checked(case_type, opening, uai, SolutionContext(day), [k])
    if case is not None and case.is_open:
        schedule_alert(sim, case)


def handover(sim, day: date, evidence: list[int], ctx: SolutionContext, uai: str | None) -> None:
    """The exit rule takes over from a rupture on `day` (no grace)."""
    sim.at(day, START, _open_handover, evidence, ctx, uai)


def _open_handover(sim, evidence: list[int], ctx: SolutionContext, uai: str | None) -> None:
    opening = sim.now_date
    case = sim.open_exit_case()
    if case is not None:
        sim.absorb(case, evidence, case_type_at(sim, opening, False), opening)
        return
    case_type = case_type_at(sim, opening, False)
    if case_type is None:
        return
    case = sim.open_checked(case_type, opening, uai, ctx, list(evidence))
    if case is not None and case.is_open:
        schedule_alert(sim, case)


def schedule_alert(sim, case) -> None:
    if case.type == OBLIGATION_FORMATION:
        sim.at(add_months(case.opened_on, sim.alert_months), END, _alert, case, guard=case)


def _alert(sim, case) -> None:
    if case.is_open and not case.interviewed:
        case.alert(sim.now_date)
