"""Evidence and transfer entries of a case (rules.md §5 "General", §6 "Moves").

A case keeps the timeline positions of the events that opened and changed it: the
triggering event(s), further triggers or signals that attached to it, the event that
resolved or closed it, the events that moved it (residence change), and every
counsellor action recorded on it (`ACTION_SUIVI` with its `case_id`, even after the
case closed: it is the counsellor's log). Deadlines (ALERTE, CLOS at 180 days) are not
events and leave no evidence; the case's `alerted_on` / `closed_on` say when.

Entries come out once each, in timeline order, which is event-date order.
"""

from __future__ import annotations

from datetime import date

from .timeline import Timeline


def evidence_entry(ev: dict) -> dict:
    return {
        "event_type": ev["event_type"],
        "event_date": ev["event_date"],
        "source": ev.get("source"),
        "source_ref": ev.get("source_ref"),
    }


def evidence_list(tl: Timeline, positions: list[int]) -> list[dict]:
    events = tl.events
    return [evidence_entry(events[k]) for k in sorted(set(positions))]


DEMENAGEMENT = "DEMENAGEMENT"


def transfer_entry(day: date, from_observatoire: str, to_observatoire: str, reason: str = DEMENAGEMENT) -> dict:
    return {"date": day, "from_observatoire": from_observatoire, "to_observatoire": to_observatoire, "reason": reason}
