"""Apprenticeship rupture → `RUPTURE` (rules.md §5).

Law: Code du travail L6222-18 (rupture; free rupture during the first 45 days of
practical training in the company), L6222-18-2 (after a rupture the CFA keeps the young
person in training for six months and helps them find a new employer), L6222-19 (early
end of the contract once the diploma is obtained — not a rupture for the hub).

Rule as implemented:

- **Trigger**: `CONTRAT_ROMPU` of contract C on date D, unless the cause is
  `OBTENTION_DIPLOME`. While a rupture case is open, a further rupture joins its evidence.
- **Opening date** O = max(D, 16th birthday). No case if by O "another contract signed
  on or after D is in force" (rules.md §5, word for word) — a contract other than C,
  signed on or after D, not broken off and not ended by a `SORTIE_CFA`. That is the
  only solution that prevents the case: the six months of L6222-18-2 are for finding a
  new employer. A young person who has another solution of §4 at O (school, a Mission
  locale accompaniment, a Mission locale situation dated from D) gets the case, and it
  is "resolved as soon as the person has a solution": opened and resolved on O, outcome
  that solution. That includes another contract signed *before* D and in force (§4 "a
  contract signed and not broken off", as for the exit rule): it does not prevent the
  case (the text says "signed on or after D"), it resolves it at once, `APPRENTISSAGE`.
  The registry sends no event when a contract ends at its term, so such a contract
  counts as long as nothing ends it — as §4 reads, for every rule alike.
- **Age**: no case under 16 at O (the opening waits for the 16th birthday). No upper
  limit: L6222-18-2 protects every apprentice, and apprenticeship runs to 29 (and beyond
  for disabled apprentices); the rules' 25-year limit is the exit rule's, so it applies
  to the hand-over case only.
- **periode_essai** = (D − date_debut_contrat) < rupture_free_days days, i.e. D falls on
  one of the first 45 calendar days, the start date being day 1: a rupture on
  start + 44 days is within (day 45), on start + 45 days is not (day 46). Calendar days
  approximate the law's "days of practical training in the company" (rules.md says so).
  When the rupture carries no start date, the start of the same contract's
  `CONTRAT_SIGNE` is used, then its signature date; unknown → None.
- **Life cycle**, deadlines counted from D (the law's six months run from the rupture):
  - resolved (`RESOLU`) at the end of the first day with a solution (typically a new
    contract: `APPRENTISSAGE`); closed_on = that day;
  - still open at the end of day D + 150 → `ALERTE`, alerted_on = D + 150;
  - still open at the end of day D + 180 → `CLOS` / `SANS_SOLUTION`, closed_on = D + 180,
    and the exit rule's case opens that day citing the rupture (exit_rule.handover);
  - `SORTIE_CFA` while the case is open → `CLOS` / `ABANDON` that day, and the exit
    rule's case opens that day (no grace). Any `SORTIE_CFA` counts (the person is in at
    most one CFA). A solution shown by the events of that same day wins: the case is
    then resolved instead (the young person left the CFA for a solution).
  - Deadlines only apply once the clock has reached them.
- **Deferred openings** (rupture before 16): if a `SORTIE_CFA` comes before the deferred
  opening, the rupture case never opens (the young person is no longer in the CFA that
  would keep them six months); that `SORTIE_CFA` is an ordinary exit (30-day grace). If
  the six months are over by the 16th birthday, no rupture case opens and the exit rule
  takes over on that birthday; if only the 150 days are, the case opens `ALERTE`
  (alerted_on = its opening date).
- **Routing**: residence at O (else the CFA's commune); establishment = the CFA of C.
"""

from __future__ import annotations

from datetime import date

from hub.types.cases import CLOS, RESOLU, RUPTURE
from hub.types.events import CONTRAT_ROMPU, CONTRAT_SIGNE

from . import exit_rule
from .situation import SolutionContext, contract_in_force
from .timeline import END, START

OBTENTION_DIPLOME = "OBTENTION_DIPLOME"
SANS_SOLUTION = "SANS_SOLUTION"
ABANDON = "ABANDON"


class PendingRupture:
    __slots__ = ("k", "day", "opening", "numero", "uai", "periode_essai", "done", "cancelled")

    def __init__(
        self, k: int, day: date, opening: date, numero: str | None, uai: str | None, periode_essai: bool | None
    ):
        self.k = k
        self.day = day
        self.opening = opening
        self.numero = numero
        self.uai = uai
        self.periode_essai = periode_essai
        self.done = False
        self.cancelled = False


def _contract_start(sim, ev: dict) -> date | None:
    start = ev.get("date_debut_contrat")
    if start is not None:
        return start
    numero = ev.get("numero_contrat")
    tl = sim.tl
    found = None
    for k, t in enumerate(tl.types):
        if t == CONTRAT_SIGNE and tl.events[k].get("numero_contrat") == numero:
            signed = tl.events[k]
            found = signed.get("date_debut_contrat") or signed["event_date"]
    return found


def on_contrat_rompu(sim, k: int, ev: dict) -> None:
    if ev.get("cause_rupture") == OBTENTION_DIPLOME:
        return
    day = ev["event_date"]
    opening = day if day >= sim.b16 else sim.b16
    case = sim.open.get(RUPTURE)
    if case is not None:
        sim.absorb(case, [k], RUPTURE, opening)
        return
    start = _contract_start(sim, ev)
    periode_essai = None if start is None else (day - start).days < sim.free_days
    pending = PendingRupture(k, day, opening, ev.get("numero_contrat"), ev.get("uai_cfa"), periode_essai)
    sim.pending_ruptures.append(pending)
    sim.at(opening, START, _open, pending)


def _open(sim, p: PendingRupture) -> None:
    p.done = True
    if p.cancelled:
        return
    opening = sim.now_date
    case = sim.open.get(RUPTURE)
    if case is not None:
        sim.absorb(case, [p.k], RUPTURE, opening)
        return
    ctx = SolutionContext(p.day, exclude_contract=p.numero)
    if opening >= p.day + sim.rupture_close:
        exit_rule.handover(sim, opening, [p.k], ctx, p.uai)
        return
    case = sim.open_checked(RUPTURE, opening, p.uai, ctx, [p.k], prevents=new_contract_in_force)
    if case is None:
        return
    case.periode_essai = p.periode_essai
    if case.is_open:
        alert_day = p.day + sim.rupture_alert
        sim.at(alert_day if alert_day > opening else opening, END, _alert, case, guard=case)
        sim.at(p.day + sim.rupture_close, END, _close, case, guard=case)


def new_contract_in_force(tl, hi: int, ctx: SolutionContext) -> bool:
    """rules.md §5: "another contract signed on or after D is in force" (D: the rupture)."""
    return contract_in_force(tl, hi, SolutionContext(ctx.trigger_date, ctx.trigger_date, ctx.exclude_contract))


def diploma_exit(sim, ev: dict) -> bool:
    """Whether the `SORTIE_CFA` event `ev` ends an apprenticeship completed with the diploma:
    the last contract event of that CFA (of the contract it names, if any) up to that day
    is a `CONTRAT_ROMPU` for `OBTENTION_DIPLOME`. Such an exit is the exit rule's reason
    `04` (L313-7 is about leaving *without* the diploma)."""
    tl = sim.tl
    numero = ev.get("numero_contrat")
    uai = ev.get("uai_cfa")
    last = None
    for j in range(tl.upto(ev["event_date"])):
        t = tl.types[j]
        if t == CONTRAT_SIGNE or t == CONTRAT_ROMPU:
            other = tl.events[j]
            if other.get("uai_cfa") == uai and (not numero or other.get("numero_contrat") == numero):
                last = other
    return last is not None and last["event_type"] == CONTRAT_ROMPU and last.get("cause_rupture") == OBTENTION_DIPLOME


def _alert(sim, case) -> None:
    if case.is_open:
        case.alert(sim.now_date)


def _close(sim, case) -> None:
    if case.is_open:
        day = sim.now_date
        sim.finish(case, CLOS, SANS_SOLUTION, day, None)
        exit_rule.handover(sim, day, [case.trigger], case.ctx, case.uai)


def on_sortie_cfa(sim, k: int, ev: dict) -> None:
    day = ev["event_date"]
    case = sim.open.get(RUPTURE)
    if case is not None:
        sol = sim.solution_now(case, day)
        if sol is not None:
            sim.finish(case, RESOLU, sol[0], day, sol[1])
            case.evidence.append(k)
            return
        sim.finish(case, CLOS, ABANDON, day, k)
        exit_rule.handover(sim, day, [case.trigger, k], case.ctx, case.uai)
        return
    for pending in sim.pending_ruptures:
        if not pending.done and pending.opening > day:
            pending.cancelled = True
    exit_rule.trigger(sim, k, day, diploma_exit(sim, ev), ev.get("uai_cfa"))
