"""Situation at a date (rules.md §4; Code de l'éducation L114-1).

A person *has a solution at date T* if, from the events dated up to T (whole days:
every event of day T counts, in the timeline's order):

- *scolarisé* (outcome `RETOUR_SCOLAIRE`): an `ELEVE_INSCRIT` in an establishment with no
  later `ELEVE_SORTI` **from that establishment** (per UAI). A pupil who leaves A while
  enrolled in B is scolarisé in B. Every exit ends the enrolment, whatever its reason
  (07/08 included: they only stop the exit from *triggering* a case).
- *en contrat* (`APPRENTISSAGE`): a `CONTRAT_SIGNE` whose contract (by `numero_contrat`)
  has no `CONTRAT_ROMPU` (whatever the cause) and no `SORTIE_CFA`. Choice: a
  `SORTIE_CFA` ends the contract it names, or, when it names none, every contract of that
  CFA — an apprenticeship contract cannot go on without the training centre, and the
  registry sends no event when a contract ends normally, so without this a `SORTIE_CFA`
  could never be "an exit like `ELEVE_SORTI`" (rules.md §5). "Signed" is the signature
  event: a contract signed but not yet started counts (the spec's wording, and the young
  person is no longer without a solution).
- *accompagné* (`ACCOMPAGNEMENT_ML`): a Mission locale `ENTREE_ACCOMPAGNEMENT` with no
  later `SORTIE_ACCOMPAGNEMENT` from the same Mission locale (`code_ml`).
- or the person's latest Mission locale `SITUATION` dated between the triggering event
  and T **inclusive** (both ends: "between two dates" read as a calendar range) is one of
  `EMPLOI`, `FORMATION`, `APPRENTISSAGE`, `SCOLARITE`, `SERVICE_CIVIQUE` — the outcome is
  that value. A later `SANS_SOLUTION` or `INJOIGNABLE` cancels an earlier one: only the
  latest situation counts.

A `SolutionContext` can exclude a contract (a rupture's broken one) and count only the
contracts signed on or after a date: the rupture's no-case test (rules.md §5 "another
contract signed on or after D is in force", `rupture.new_contract_in_force`).

When several forms hold, the outcome is the one whose event is the most recent in the
timeline: a case is resolved on the day a solution appears, so this is the form that
appeared that day.
"""

from __future__ import annotations

from datetime import date

from hub.types.events import (
    CONTRAT_ROMPU,
    CONTRAT_SIGNE,
    ELEVE_INSCRIT,
    ELEVE_SORTI,
    JEUNE_ML,
    ML_SITUATIONS_SOLUTION,
    SORTIE_CFA,
)

from .timeline import Timeline

RETOUR_SCOLAIRE = "RETOUR_SCOLAIRE"
APPRENTISSAGE = "APPRENTISSAGE"
ACCOMPAGNEMENT_ML = "ACCOMPAGNEMENT_ML"

_SITUATIONS_SOLUTION = frozenset(ML_SITUATIONS_SOLUTION)
# Events that can make a solution appear (the others can only end one).
SOLUTION_EVENTS = frozenset((ELEVE_INSCRIT, CONTRAT_SIGNE, JEUNE_ML))


class SolutionContext:
    """What counts as a solution for one case.

    trigger_date      start of the Mission locale SITUATION window (the triggering event)
    contracts_from    only contracts signed on or after this date count (None: all)
    exclude_contract  this contract never counts (the broken one)
    """

    __slots__ = ("trigger_date", "contracts_from", "exclude_contract")

    def __init__(self, trigger_date: date, contracts_from: date | None = None, exclude_contract: str | None = None):
        self.trigger_date = trigger_date
        self.contracts_from = contracts_from
        self.exclude_contract = exclude_contract


def solution_at(tl: Timeline, hi: int, ctx: SolutionContext) -> tuple[str, int] | None:
    """(outcome, index of the event giving it) if the events `tl[:hi]` show a solution.

    `hi` is `tl.upto(T)`: the events dated up to T.
    """
    enrolled, contracts, accompanied, situation = _holding(tl, hi, ctx)
    best = -1
    outcome = None
    for k in enrolled.values():
        if k > best:
            best, outcome = k, RETOUR_SCOLAIRE
    for k, _ in contracts.values():
        if k > best:
            best, outcome = k, APPRENTISSAGE
    for k in accompanied.values():
        if k > best:
            best, outcome = k, ACCOMPAGNEMENT_ML
    if situation > best and tl.dates[situation] >= ctx.trigger_date:
        value = tl.events[situation].get("situation")
        if value in _SITUATIONS_SOLUTION:
            best, outcome = situation, value
    if outcome is None:
        return None
    return outcome, best


def contract_in_force(tl: Timeline, hi: int, ctx: SolutionContext) -> bool:
    """Whether the events `tl[:hi]` show a contract in force that `ctx` counts (for a
    rupture: another contract, signed on or after the rupture)."""
    return bool(_holding(tl, hi, ctx)[1])


def _holding(
    tl: Timeline, hi: int, ctx: SolutionContext
) -> tuple[dict[str, int], dict[str, tuple[int, str | None]], dict[str, int], int]:
    """What holds after the events `tl[:hi]`: enrolments by UAI, contracts in force by
    number (as `ctx` counts them), accompaniments by Mission locale (each → the index
    of the event that began it), and the index of the latest ML SITUATION (-1: none)."""
    events = tl.events
    types = tl.types
    enrolled: dict[str, int] = {}
    contracts: dict[str, tuple[int, str | None]] = {}
    accompanied: dict[str, int] = {}
    situation = -1
    contracts_from = ctx.contracts_from
    exclude = ctx.exclude_contract
    for k in range(hi):
        t = types[k]
        if t == ELEVE_INSCRIT:
            enrolled[events[k].get("uai")] = k
        elif t == ELEVE_SORTI:
            enrolled.pop(events[k].get("uai"), None)
        elif t == CONTRAT_SIGNE:
            ev = events[k]
            numero = ev.get("numero_contrat") or f"#{k}"
            if numero != exclude and (contracts_from is None or ev["event_date"] >= contracts_from):
                contracts[numero] = (k, ev.get("uai_cfa"))
        elif t == CONTRAT_ROMPU:
            contracts.pop(events[k].get("numero_contrat"), None)
        elif t == SORTIE_CFA:
            if contracts:
                ev = events[k]
                numero = ev.get("numero_contrat")
                if numero:
                    contracts.pop(numero, None)
                else:
                    uai = ev.get("uai_cfa")
                    for num in [n for n, (_, u) in contracts.items() if u == uai]:
                        del contracts[num]
        elif t == JEUNE_ML:
            ev = events[k]
            what = ev.get("evenement")
            if what == "SITUATION":
                situation = k
            elif what == "ENTREE_ACCOMPAGNEMENT":
                accompanied[ev.get("code_ml")] = k
            elif what == "SORTIE_ACCOMPAGNEMENT":
                accompanied.pop(ev.get("code_ml"), None)
    return enrolled, contracts, accompanied, situation
