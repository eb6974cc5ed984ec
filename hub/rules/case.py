"""The engine's working copy of a case, and its record as interfaces.md prints it."""

from __future__ import annotations

from datetime import date

from hub.types.cases import ALERTE, OPEN_STATUSES, OUVERT

from .evidence import evidence_list
from .situation import SolutionContext
from .timeline import Timeline


class Case:
    __slots__ = (
        "case_id",
        "type",
        "status",
        "outcome",
        "opened_on",
        "alerted_on",
        "closed_on",
        "periode_essai",
        "observatoire",
        "role",
        "code",
        "uai",
        "commune",
        "residence_routed",
        "ctx",
        "interviewed",
        "evidence",
        "transfers",
        "trigger",
        "moved_by",
    )

    def __init__(
        self,
        case_id: str,
        case_type: str,
        opened_on: date,
        uai: str | None,
        commune: str | None,
        residence_routed: bool,
        ctx: SolutionContext | None,
        evidence: list[int],
    ) -> None:
        self.case_id = case_id
        self.type = case_type
        self.status = OUVERT
        self.outcome: str | None = None
        self.opened_on = opened_on
        self.alerted_on: date | None = None
        self.closed_on: date | None = None
        self.periode_essai: bool | None = None
        self.observatoire = ""
        self.role = ""
        self.code = ""
        self.uai = uai
        self.commune = commune
        self.residence_routed = residence_routed
        self.ctx = ctx  # None: not resolved by a §4 solution (PREVENTION)
        self.interviewed = False  # ENTRETIEN_REALISE recorded (L313-8)
        self.evidence = evidence
        self.transfers: list[dict] = []
        self.trigger = evidence[0] if evidence else -1
        self.moved_by: list[int] = []  # evidence of the moves (re-routings) only

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def alert(self, day: date) -> None:
        if self.status == OUVERT:
            self.status = ALERTE
            self.alerted_on = day

    def reopen(self, uai: str | None, ctx: SolutionContext | None, evidence: list[int]) -> None:
        """Open again, as the case of the trigger whose `evidence` is given (see
        `Sim._taken_over`)."""
        self.status, self.outcome, self.closed_on = OUVERT, None, None
        self.uai, self.ctx = uai, ctx
        self.evidence.extend(evidence)
        self.trigger = evidence[0] if evidence else self.trigger

    def finish(self, status: str, outcome: str | None, day: date) -> None:
        self.status = status
        self.outcome = outcome
        self.closed_on = day

    def record(self, tl: Timeline, person: dict | None) -> dict:
        return {
            "case_id": self.case_id,
            "type": self.type,
            "status": self.status,
            "outcome": self.outcome,
            "observatoire": self.observatoire,
            "assigned_to": {"role": self.role, "code": self.code},
            "person": dict(person) if person else None,
            "opened_on": self.opened_on,
            "alerted_on": self.alerted_on,
            "closed_on": self.closed_on,
            "periode_essai": self.periode_essai,
            "evidence": evidence_list(tl, self.evidence),
            "transfers": list(self.transfers),
        }
