"""evaluate(): one person's events and the hub's clock → that person's cases (rules.md).

The rule core is a **pure function of the set of events and the clock**: it rebuilds
every case from scratch each time, so replays, restarts and ingestion order cannot
change a result (rules.md §3 "Determinism"). It knows nothing of Kafka or Faust.

How time works (rules.md §3), exactly:

- The person's events are replayed in event-date order (`timeline.py`), **all of them**,
  including events dated after the clock: "a case's state reflects every event the hub
  knows, even one dated after the clock" — a solution, a CTI closure, a move, a counsellor
  action apply as soon as they are known.
- What the clock gates are the **dates the rules compute** ("gates"): an opening date
  (exit + grace, 16th birthday, rupture, prevention), the L313-8 3-month deadline, the
  rupture's 150/180-day deadlines, and the 24-month retention. A gate applies only when
  `gate date ≤ clock`; a gate beyond the clock is not applied (the case is not open yet,
  the deadline has not passed) and its date becomes a candidate for `next_deadline`.
  With no clock at all (not every clock source has reported), nothing opens.
- Within a day: opening gates run at the *start* of their day (so that day's events can
  attach to, move or close the new case), but the opening decision reads the *whole day*
  ("has a solution at date T" reads every event dated up to T). Deadline gates run at the
  *end* of their day, after that day's events and after that day's solution check ("still
  open at D+150": a solution dated D+150 wins over the alert).
- A case is resolved at the end of the first day on which it has a solution (§4).

`next_deadline` is the earliest gate date after the clock met during the replay (or
None). Between the clock and that date every gate decision is the same, so the result is
the same; the worker should wake the person up then. It can be early (a gate that turns
out to change nothing) but never late. Deadlines of a case that is already closed before
them (a resolved case's 3-month or 150/180-day deadline) are left out: they cannot act.

Choices for the general rules (rules.md §5 "General", §6), each deliberate:

- **One open case per type**, and the exit rule keeps **one open exit case**, whichever of
  `OBLIGATION_FORMATION`/`DECROCHAGE` it is: an exit trigger (second `ELEVE_SORTI`,
  `SORTIE_CFA`, rupture hand-over) met while one is open attaches to it as evidence —
  two exit cases of different types for one young person without solution would assign
  the same Mission locale twice. An exit case may be open beside a `RUPTURE` (different
  types, different counsellors; see `exit_rule.py`). A case's type is fixed at its
  opening (age then).
- **Case ids** come from (person key, type, opening date). If a new case would get the id
  of an existing (closed) case — two prevention triggers on the day of a closure — the
  trigger attaches to the existing case instead of reopening it.
- **Late solutions.** Being a function of the set, if an event dated *before* a case's
  opening arrives after the case was published and shows a solution at the opening
  date, the case no longer exists in the result (the worker must tombstone it). One
  exception keeps counsellors' work: if a counsellor action already references that case
  id, the case is kept, opened and resolved on its opening date (closed_on = opening
  date, outcome = the solution then). Kept for whichever trigger needed it: when another
  trigger of the same type opens on the same day without a solution (two exits before
  16 both opening on the birthday), the case is open and that trigger's — an action
  never resolves a case (`_taken_over`). Likewise a rupture case opened already resolved
  (a solution that is no new contract) yields to a rupture of the same opening day that
  has no solution: the young person has none.
- **Counsellor actions** (`ACTION_SUIVI`) apply to the case whose id they carry (if it
  exists by then) and always join its evidence. A case is also known by the ids it had
  under the person's `aliases` (the name keys whose INE-less events were linked to this
  INE, rules.md §1): an action recorded on the INE-less case before the linking follows
  it, whatever the order of arrival (§3). Likewise a trigger that joins an open case
  (`Sim.absorb`) lends it the id of the case it would have opened: an action recorded
  on that case, before an earlier trigger arrived or a linking merged the two, applies
  to the case that absorbed it. `SOLUTION_CONSEILLER` with a known kind
  resolves an open case of any type (outcome = the kind). `ENTRETIEN_REALISE` is the
  interview of L313-8 (see `exit_rule.py`). The others are evidence only.
- **Moves** (§6): while a residence-routed case (DECROCHAGE, OBLIGATION_FORMATION,
  RUPTURE) is open, an event dated after its opening day whose residence commune differs
  from the case's is re-routed; if the observatory or the counsellor changes, the case
  now belongs to the new ones and the event joins its evidence; if the observatory
  changes, a transfer {date: the event's date, from, to, reason "DEMENAGEMENT"} is
  appended (a transfer is between observatories: the old one gets the TRANSFERE record,
  and a transfer entry only names observatories). Counsellor actions never move
  a case. A residence that becomes known only after the opening (the case was routed by
  its establishment) is handled the same way. PREVENTION never moves (establishment).
- **Person** on every case: the latest-known identity (see `timeline.py`); the
  residence shown is the latest known overall. Ages use the date of birth of that
  identity. A person with no identity at all (no dated event but actions) has no case.
- **Retention** (§8): a closed or resolved case whose `closed_on + retention_months ≤
  clock` is erased: listed in `Evaluation.erased`, left out of `cases`.
- **Routing** is recomputed from the current directory at each evaluation; a case whose
  routing changes with a directory update shows its new owner without a transfer entry
  (the worker, which knows what it published before, keeps the transfers published
  before the update, adds the update's own and emits the `TRANSFERE`, and may keep a
  closed case where it was published: hub/worker/core.py, "Directory transfers").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from heapq import heappop, heappush

from hub.identity import case_id as make_case_id
from hub.settings import RulesConfig
from hub.types.cases import (
    CLOS,
    DECROCHAGE,
    OBLIGATION_FORMATION,
    OUTCOMES_RESOLU,
    RESOLU,
)
from hub.types.directory import Directory
from hub.types.events import (
    ABSENTEISME_MENSUEL,
    ACTION_SOLUTION,
    ACTION_SUIVI,
    CONTRAT_ROMPU,
    CONTRAT_SIGNE,
    ELEVE_INSCRIT,
    ELEVE_SORTI,
    JEUNE_ML,
    SIGNALEMENT_CTI,
    SORTIE_CFA,
)

from . import exit_rule, prevention, rupture
from .age import add_months, birthday
from .case import Case
from .evidence import evidence_list, transfer_entry
from .routing_port import RouteFn, get_route
from .situation import SolutionContext, solution_at
from .timeline import EVENTS, START, Timeline

ENTRETIEN_REALISE = "ENTRETIEN_REALISE"
_OUTCOMES_RESOLU = frozenset(OUTCOMES_RESOLU)


@dataclass(slots=True)
class Evaluation:
    cases: list[dict] = field(default_factory=list)
    next_deadline: date | None = None
    erased: list[str] = field(default_factory=list)
    # case id → the evidence entries of the moves that re-routed it, for the worker:
    # they depend on the directory, and a directory update must not take back the
    # evidence of a move it keeps (hub/worker/core.py, "Directory transfers").
    moves: dict[str, list[dict]] = field(default_factory=dict)


class Sim:
    """One replay of one person's timeline at one clock (internal)."""

    __slots__ = (
        "key",
        "tl",
        "clock",
        "directory",
        "route",
        "dob",
        "b16",
        "grace",
        "alert_months",
        "free_days",
        "rupture_alert",
        "rupture_close",
        "abs_two",
        "abs_one",
        "retention_months",
        "min_age",
        "majority",
        "max_exit_age",
        "heap",
        "seq",
        "now_date",
        "now_phase",
        "horizon",
        "guarded",
        "cases",
        "by_id",
        "open",
        "pending_ruptures",
        "absences",
        "left",
        "route_cache",
        "aliases",
        "resolved_at_opening",
    )

    def __init__(self, person_key: str, tl: Timeline, clock: date, directory: Directory, cfg: RulesConfig,
                 route: RouteFn, aliases: tuple[str, ...] = ()):
        self.key = person_key
        self.aliases = aliases  # only actions look cases up by id (see evaluate)
        self.tl = tl
        self.clock = clock
        self.directory = directory
        self.route = route
        self.dob: date = tl.dob
        self.min_age = cfg.min_age_case
        self.majority = cfg.majority_age
        self.max_exit_age = cfg.max_age_exit_rule
        self.b16 = birthday(self.dob, cfg.min_age_case)
        self.grace = timedelta(days=cfg.grace_days)
        self.alert_months = cfg.obligation_alert_months
        self.free_days = cfg.rupture_free_days
        self.rupture_alert = timedelta(days=cfg.rupture_alert_days)
        self.rupture_close = timedelta(days=cfg.rupture_close_days)
        self.abs_two = cfg.absence_two_months_threshold
        self.abs_one = cfg.absence_one_month_threshold
        self.retention_months = cfg.retention_months
        self.heap: list = []
        self.seq = 0
        self.now_date = date.min
        self.now_phase = START
        self.horizon: date | None = None
        self.guarded: list[tuple[date, Case]] = []
        self.cases: list[Case] = []
        self.by_id: dict[str, Case] = {}
        self.open: dict[str, Case] = {}
        self.pending_ruptures: list = []
        self.absences: dict[tuple, tuple[int, int]] = {}
        self.left: set[str | None] = set()  # establishments left and not enrolled in since
        self.route_cache: dict[tuple, tuple[str, str, str]] = {}
        # Cases opened already resolved (open_checked) → kept only for an action?
        self.resolved_at_opening: dict[str, bool] = {}

    # -- time -------------------------------------------------------------------------

    def later(self, day: date, guard: Case | None = None) -> None:
        """A gate beyond the clock: remember it for next_deadline.

        A deadline `guard`ed by a case is a no-op if that case is closed by then (it only
        acts on an open case); `result()` drops such deadlines, so that a resolved case
        does not wake the worker up for its moot 3-month or 150/180-day deadline.
        """
        if guard is not None:
            self.guarded.append((day, guard))
        elif self.horizon is None or day < self.horizon:
            self.horizon = day

    def at(self, day: date, phase: int, fn, *args, guard: Case | None = None) -> None:
        """Run `fn(self, *args)` at gate (day, phase), if the clock has reached `day`."""
        if day > self.clock:
            self.later(day, guard)
        elif day < self.now_date or (day == self.now_date and phase <= self.now_phase):
            fn(self, *args)
        else:
            self.seq += 1
            heappush(self.heap, (day, phase, self.seq, fn, args))

    def _run_gate(self) -> None:
        day, phase, _, fn, args = heappop(self.heap)
        self.now_date = day
        self.now_phase = phase
        fn(self, *args)

    def run(self) -> None:
        tl = self.tl
        dates = tl.dates
        heap = self.heap
        n = len(dates)
        i = 0
        while i < n:
            day = dates[i]
            while heap and (heap[0][0] < day or (heap[0][0] == day and heap[0][1] == START)):
                self._run_gate()
            self.now_date = day
            self.now_phase = EVENTS
            touched = False
            j = i
            while j < n and dates[j] == day:
                if self._process(j):
                    touched = True
                j += 1
            if touched and self.open:
                self._check_solutions(day, j)
            i = j
        while heap:
            self._run_gate()

    # -- cases ------------------------------------------------------------------------

    def routing(self, case_type: str, commune: str | None, uai: str | None) -> tuple[str, str, str]:
        key = (case_type, commune, uai)
        r = self.route_cache.get(key)
        if r is None:
            res = self.route(case_type, commune, uai, self.directory)
            r = (res.observatoire, res.assigned_to_role, res.assigned_to_code)
            self.route_cache[key] = r
        return r

    def open_exit_case(self) -> Case | None:
        case = self.open.get(OBLIGATION_FORMATION)
        return case if case is not None else self.open.get(DECROCHAGE)

    def new_case(
        self,
        case_type: str,
        opened_on: date,
        uai: str | None,
        residence_routed: bool,
        ctx: SolutionContext | None,
        evidence: list[int],
    ) -> Case | None:
        cid, *alias_ids = self.ids_of(case_type, opened_on)
        existing = self.by_id.get(cid)
        if existing is not None:
            existing.evidence.extend(evidence)
            return None
        commune = self.tl.residence_at(opened_on) if residence_routed else None
        case = Case(cid, case_type, opened_on, uai, commune, residence_routed, ctx, evidence)
        case.observatoire, case.role, case.code = self.routing(case_type, commune, uai)
        self.cases.append(case)
        self.by_id[cid] = case
        for alias_id in alias_ids:
            self.by_id.setdefault(alias_id, case)
        self.open[case_type] = case
        return case

    def absorb(self, case: Case, evidence: list[int], case_type: str | None, opened_on: date) -> None:
        """A trigger (its `evidence`) joins the open `case` instead of opening a case of
        its own, which would have been `case_type` opened on `opened_on`: that case may
        have existed before an earlier trigger arrived (or before the person's name key
        was linked to this INE), and counsellors' actions recorded on it now apply to
        `case`."""
        case.evidence.extend(evidence)
        if case_type is not None and self.tl.action_case_ids:
            for cid in self.ids_of(case_type, opened_on):
                self.by_id.setdefault(cid, case)

    def ids_of(self, case_type: str, opened_on: date) -> list[str]:
        """The case's id and the ids it had under the person's aliases."""
        return [make_case_id(k, case_type, opened_on) for k in (self.key, *self.aliases)]

    def open_checked(
        self,
        case_type: str,
        opened_on: date,
        uai: str | None,
        ctx: SolutionContext,
        evidence: list[int],
        prevents: Callable[[Timeline, int, SolutionContext], bool] | None = None,
    ) -> Case | None:
        """Open unless the person has a solution at `opened_on` (see "Late solutions").

        `prevents` narrows which solutions mean "no case" (the rupture's "another
        contract … in force"); with any other solution the case opens already resolved.
        """
        tl = self.tl
        hi = tl.upto(opened_on)
        sol = solution_at(tl, hi, ctx)
        prevented = sol is not None and (prevents is None or prevents(tl, hi, ctx))
        if prevented and tl.action_case_ids.isdisjoint(self.ids_of(case_type, opened_on)):
            return None
        case = self._taken_over(case_type, opened_on, sol, prevented)
        if case is not None:
            case.reopen(uai, ctx, evidence)
            case.observatoire, case.role, case.code = self.routing(case_type, case.commune, uai)
            self.open[case_type] = case
        else:
            case = self.new_case(case_type, opened_on, uai, True, ctx, evidence)
            if case is None:
                return None
        if sol is not None:
            self.resolved_at_opening[case.case_id] = prevented
            self.finish(case, RESOLU, sol[0], opened_on, sol[1])
        return case

    def _taken_over(self, case_type: str, opened_on: date, sol, prevented: bool) -> Case | None:
        """The case an earlier trigger of this type and opening date opened already
        resolved, when this trigger is to have it instead — as if this one had come first
        and the other had joined it: this trigger has no solution (the case is open), or
        the earlier one's solution would have prevented the case, which only a counsellor's
        action on it kept, and this one's does not. Otherwise None (the trigger joins the
        case). Of the case's evidence only the counsellors' actions stay."""
        cid = make_case_id(self.key, case_type, opened_on)
        case = self.by_id.get(cid)
        kept_for_action = self.resolved_at_opening.get(cid) if case is not None and case.case_id == cid else None
        if kept_for_action is None:
            return None
        if sol is not None and (prevented or not kept_for_action):
            return None
        del self.resolved_at_opening[cid]
        types = self.tl.types
        case.evidence = [k for k in case.evidence if types[k] == ACTION_SUIVI]
        return case

    def finish(self, case: Case, status: str, outcome: str | None, day: date, k: int | None) -> None:
        case.finish(status, outcome, day)
        if k is not None:
            case.evidence.append(k)
        if self.open.get(case.type) is case:
            del self.open[case.type]

    def solution_now(self, case: Case, day: date) -> tuple[str, int] | None:
        """The case's solution at `day` (whole day), if any."""
        return solution_at(self.tl, self.tl.upto(day), case.ctx)

    def _check_solutions(self, day: date, hi: int) -> None:
        for case in list(self.open.values()):
            if case.ctx is not None:
                sol = solution_at(self.tl, hi, case.ctx)
                if sol is not None:
                    self.finish(case, RESOLU, sol[0], day, sol[1])

    # -- events -----------------------------------------------------------------------

    def _process(self, k: int) -> bool:
        """Apply event k; True if it may have made a solution appear."""
        tl = self.tl
        t = tl.types[k]
        if self.open:
            commune = tl.communes[k]
            if commune:
                self._moves(k, tl.dates[k], commune)
        ev = tl.events[k]
        if t == ELEVE_INSCRIT:
            self.left.discard(ev.get("uai"))
            return True
        if t == CONTRAT_SIGNE or t == JEUNE_ML:
            return True
        if t == ELEVE_SORTI:
            uai = ev.get("uai")
            # A prevention case opened after an earlier exit from this establishment (a
            # signal about a pupil the Rectorat had seen leave) closes on this one.
            prevention.on_leave(self, k, uai)
            if uai in self.left:  # gone from there already, not enrolled since: no new exit
                return False
            self.left.add(uai)
            exit_rule.on_eleve_sorti(self, k, ev)
        elif t == CONTRAT_ROMPU:
            rupture.on_contrat_rompu(self, k, ev)
        elif t == SORTIE_CFA:
            prevention.on_leave(self, k, ev.get("uai_cfa"))
            rupture.on_sortie_cfa(self, k, ev)
        elif t == ABSENTEISME_MENSUEL:
            prevention.on_absence(self, k, ev)
        elif t == SIGNALEMENT_CTI:
            prevention.on_cti(self, k, ev)
        elif t == ACTION_SUIVI:
            self._on_action(k, ev)
        return False

    def _moves(self, k: int, day: date, commune: str) -> None:
        for case in self.open.values():
            if case.residence_routed and case.opened_on < day and commune != case.commune:
                case.commune = commune
                obs, role, code = self.routing(case.type, commune, case.uai)
                if obs != case.observatoire or role != case.role or code != case.code:
                    if obs != case.observatoire:  # a transfer is between observatories (§6)
                        case.transfers.append(transfer_entry(day, case.observatoire, obs))
                    case.observatoire, case.role, case.code = obs, role, code
                    case.evidence.append(k)
                    case.moved_by.append(k)

    def _on_action(self, k: int, ev: dict) -> None:
        case = self.by_id.get(ev.get("case_id"))
        if case is None:
            return
        case.evidence.append(k)
        action = ev.get("action")
        if action == ENTRETIEN_REALISE:
            case.interviewed = True
        elif action == ACTION_SOLUTION and case.is_open:
            kind = ev.get("solution")
            if kind in _OUTCOMES_RESOLU:
                self.finish(case, RESOLU, kind, ev["event_date"], None)

    # -- result -----------------------------------------------------------------------

    def result(self) -> Evaluation:
        clock = self.clock
        tl = self.tl
        person = tl.person
        months = self.retention_months
        cases: list[dict] = []
        erased: list[str] = []
        moves: dict[str, list[dict]] = {}
        ordered = self.cases
        if len(ordered) > 1:
            ordered = sorted(ordered, key=lambda c: (c.opened_on, c.type, c.case_id))
        for case in ordered:
            if case.closed_on is not None and case.status in (RESOLU, CLOS):
                gone = add_months(case.closed_on, months)
                if gone <= clock:
                    erased.append(case.case_id)
                    continue
                self.later(gone)
            cases.append(case.record(tl, person))
            if case.moved_by:
                moves[case.case_id] = evidence_list(tl, case.moved_by)
        for day, case in self.guarded:
            if case.closed_on is None or case.closed_on > day:
                self.later(day)
        return Evaluation(cases, self.horizon, erased, moves)


def evaluate(
    person_key: str,
    events: Iterable[dict],
    clock: date | None,
    directory: Directory,
    config: RulesConfig,
    route: RouteFn | None = None,
    aliases: Iterable[str] = (),
) -> Evaluation:
    """This person's cases at `clock`, from the set of their events.

    `events`: the person's event dicts (any order, duplicates allowed), counsellors'
    `ACTION_SUIVI` included. `clock`: the hub's clock (None: no clock yet → no case).
    `route`: routing function (default `hub.directory.routing.route`). `aliases`: the
    other person keys this person's cases were known by (see "Counsellor actions").

    Returns `Evaluation(cases, next_deadline, erased)`: the case records exactly as
    interfaces.md prints them (dates as `datetime.date`), sorted by (opened_on, type,
    case_id); the earliest date after the clock at which a later clock could change the
    result; the ids of cases erased by retention.
    """
    if clock is None:
        return Evaluation()
    tl = Timeline(events)
    if tl.dob is None:
        return Evaluation()
    sim = Sim(person_key, tl, clock, directory, config, get_route(route),
              tuple(sorted(aliases)) if tl.action_case_ids else ())
    sim.run()
    return sim.result()
