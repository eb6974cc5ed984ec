"""One person's events as an ordered, deduplicated timeline (rules.md §3 "Determinism").

The engine is a pure function of the *set* of events, so the timeline is built the same
way whatever the order or repetitions of its input:

- **Dedupe by `event_id`.** Event ids are deterministic (same record, same fact → same
  id), so two copies of one id are the same fact; the first copy met is kept. Copies
  differ at most by when and where they were received (`received_at`, `source_ref`),
  which no rule reads; the worker holds one copy per id, always the same
  (`hub.worker.core.hold`), so the evidence shown does not depend on arrival order.
- **Order** by `(event_date, rank, event_id)`. The rank orders facts of the same day so
  that a day reads naturally: starts before ends (`ELEVE_INSCRIT` before `ELEVE_SORTI`
  of the same day, so a pupil enrolled and gone the same day is gone; `CONTRAT_SIGNE`
  before `CONTRAT_ROMPU`; Mission locale entry, then situation, then exit), the signals
  (absenteeism, CTI `REPERAGE`, `SUIVI`) before the exits (`ELEVE_SORTI`,
  `CONTRAT_ROMPU`, `SORTIE_CFA`: a prevention case opened that day is closed by the
  exit), CTI `CLOTURE` last, then the counsellors' actions.
  `event_id` breaks the remaining ties, so the order is total and deterministic.
- Decisions about "the situation at date T" always read *every* event dated up to T
  (whole days), so the rank only matters where the rules compare events of one day.

The timeline also carries the person's identity as shown on cases: the INE of the
latest event that has one (None if none has), the names and date of birth of the latest
event (counsellors' actions excluded: they are not an identity source), and the latest
known residence commune.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date

from hub.types.events import (
    ABSENTEISME_MENSUEL,
    ACTION_SUIVI,
    CONTRAT_ROMPU,
    CONTRAT_SIGNE,
    ELEVE_INSCRIT,
    ELEVE_SORTI,
    JEUNE_ML,
    SIGNALEMENT_CTI,
    SORTIE_CFA,
)

# Signals come before the exits of their day: a prevention case a signal opens on the day
# the pupil leaves is then closed by that exit (rules.md §5), instead of opening after it.
_RANK = {
    ELEVE_INSCRIT: 0,
    CONTRAT_SIGNE: 1,
    JEUNE_ML: 3,  # refined by `evenement` below
    ABSENTEISME_MENSUEL: 5,
    SIGNALEMENT_CTI: 7,  # refined by `type` below
    ELEVE_SORTI: 8,
    CONTRAT_ROMPU: 9,
    SORTIE_CFA: 10,
    ACTION_SUIVI: 12,
}
_ML_RANK = {"PREMIER_ACCUEIL": 2, "ENTREE_ACCOMPAGNEMENT": 2, "SITUATION": 3, "SORTIE_ACCOMPAGNEMENT": 4}
_CTI_RANK = {"REPERAGE": 6, "SUIVI": 7, "CLOTURE": 11}
_UNKNOWN_RANK = 99


def _sort_key(ev: dict) -> tuple:
    t = ev["event_type"]
    if t == JEUNE_ML:
        rank = _ML_RANK.get(ev.get("evenement"), 3)
    elif t == SIGNALEMENT_CTI:
        rank = _CTI_RANK.get(ev.get("type"), 10)
    else:
        rank = _RANK.get(t, _UNKNOWN_RANK)
    return (ev["event_date"], rank, ev["event_id"])


class Timeline:
    """Parallel lists indexed by position in event-date order (cheap to scan)."""

    __slots__ = ("events", "dates", "types", "communes", "action_case_ids", "person", "dob")

    def __init__(self, events: Iterable[dict]) -> None:
        seen: set[str] = set()
        unique: list[dict] = []
        for ev in events:
            eid = ev["event_id"]
            if eid not in seen:
                seen.add(eid)
                unique.append(ev)
        unique.sort(key=_sort_key)
        self.events = unique
        self.dates: list[date] = [ev["event_date"] for ev in unique]
        self.types: list[str] = [ev["event_type"] for ev in unique]

        communes: list[str | None] = []
        action_case_ids: set[str] = set()
        ine = None
        latest = None
        commune = None
        for ev in unique:
            if ev["event_type"] == ACTION_SUIVI:
                # A counsellor's action is about a case, not a source of identity or
                # residence (what it carries is copied from the case, maybe stale).
                communes.append(None)
                cid = ev.get("case_id")
                if cid:
                    action_case_ids.add(cid)
                continue
            person = ev.get("person")
            c = (person.get("commune_residence") or None) if person else None
            communes.append(c)
            if person:
                latest = person
                if person.get("ine"):
                    ine = person["ine"]
                if c:
                    commune = c
        self.communes = communes
        self.action_case_ids = action_case_ids
        if latest is None:
            self.person = None
            self.dob = None
        else:
            self.dob = latest.get("date_naissance")
            self.person = {
                "ine": ine,
                "nom": latest.get("nom"),
                "prenom": latest.get("prenom"),
                "date_naissance": self.dob,
                "commune_residence": commune,
            }

    def __len__(self) -> int:
        return len(self.events)

    def upto(self, day: date) -> int:
        """Index one past the last event dated on or before `day`."""
        return bisect_right(self.dates, day)

    def residence_at(self, day: date) -> str | None:
        """Latest known residence commune from the events dated up to `day` (rules.md §6)."""
        communes = self.communes
        for k in range(bisect_right(self.dates, day) - 1, -1, -1):
            c = communes[k]
            if c:
                return c
        return None


# Gate phases within a day (see engine.py): openings at the start of their day, deadlines
# at its end, the day's events in between.
START = 0
EVENTS = 1
END = 2
