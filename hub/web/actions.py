"""Counsellors' follow-up actions (rules.md §5 "General"): checked, turned into an
ACTION_SUIVI event for `suivi.actions.v1`, and matched back to the case's timeline.

The event (hub.types.events):
- key: the case id; `person`: the case's person (the engine finds the young person by it);
- `event_id`: deterministic from (case id, action, date, author account, solution kind),
  so the same action recorded twice is one fact;
- `source` "suivi", `source_ref` "web:<account>", `auteur` the structure code;
- `commentaire` is always empty: the pages offer no free text, so that nothing outside
  the case facts (health, family…) can enter the hub through them (rules.md §8).

The engine reflects an action by adding an evidence entry (ACTION_SUIVI, its date, its
source_ref) to the case. Until then the page lists it as "en attente".
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from hub.accounts import Account
from hub.identity import event_id as make_event_id
from hub.types.events import ACTION_SOLUTION, ACTION_SUIVI, ACTIONS, SOLUTION_KINDS
from hub.validation import FieldError, parse_date
from hub.web.labels import ACTIONS as ACTION_LABELS
from hub.web.labels import OUTCOMES
from hub.web.view import ActionSeen

SOURCE = "suivi"
EARLIEST = date(2000, 1, 1)


@dataclass(frozen=True, slots=True)
class ActionInput:
    action: str
    day: date
    solution: str | None


def check_action(raw_action: Any, raw_date: Any, raw_solution: Any, today: date,
                 opened_on: date | None = None) -> tuple[ActionInput | None, dict[str, str]]:
    """The action asked for, or the problems with it by field (messages in French).

    An action dated before the case's opening is refused: the engine applies an action
    to the case from its opening on, so it would be accepted and never reflected."""
    errors: dict[str, str] = {}
    action = str(raw_action or "").strip().upper()
    if action not in ACTIONS:
        errors["action"] = "Choisissez une action dans la liste."
    solution = str(raw_solution or "").strip().upper() or None
    if action == ACTION_SOLUTION:
        if solution not in SOLUTION_KINDS:
            errors["solution"] = "Pour « Solution trouvée », précisez la solution."
    elif solution is not None and action in ACTIONS:
        errors["solution"] = "La nature de la solution ne se précise que pour « Solution trouvée »."
    day: date | None = today
    if raw_date not in (None, ""):
        try:
            day = parse_date(raw_date)
        except FieldError:
            errors["date"] = "Date invalide : JJ/MM/AAAA ou AAAA-MM-JJ."
            day = None
    if day is not None and day > today:
        errors["date"] = "La date ne peut pas être dans le futur."
    elif day is not None and day < EARLIEST:
        errors["date"] = "Date trop ancienne."
    elif day is not None and opened_on is not None and day < opened_on:
        errors["date"] = f"La date ne peut pas précéder l'ouverture du dossier ({opened_on:%d/%m/%Y})."
    if errors:
        return None, errors
    assert day is not None
    return ActionInput(action, day, solution if action == ACTION_SOLUTION else None), {}


def action_event(case: dict[str, Any], account: Account, asked: ActionInput, now: datetime | None = None) -> dict[str, Any]:
    person = case["person"]
    return {
        "event_id": make_event_id(SOURCE, case["case_id"], asked.action, asked.day.isoformat(), account.name,
                                  asked.solution or ""),
        "event_type": ACTION_SUIVI,
        "source": SOURCE,
        "source_ref": f"web:{account.name}",
        "event_date": asked.day,
        "received_at": now or datetime.now(UTC),
        "person": {
            "ine": person.get("ine"),
            "nom": person["nom"],
            "prenom": person["prenom"],
            "date_naissance": person["date_naissance"],
            "commune_residence": person.get("commune_residence"),
        },
        "case_id": case["case_id"],
        "action": asked.action,
        "solution": asked.solution,
        "auteur": account.code or account.name,
        "commentaire": None,
    }


def seen_of(event: dict[str, Any]) -> ActionSeen:
    return ActionSeen(
        event_id=event["event_id"],
        case_id=event["case_id"],
        action=event["action"],
        solution=event["solution"],
        event_date=event["event_date"],
        auteur=event["auteur"],
        source_ref=event["source_ref"],
    )


def action_label(a: ActionSeen) -> str:
    text = ACTION_LABELS.get(a.action, a.action)
    if a.solution:
        text += f" : {OUTCOMES.get(a.solution, a.solution)}"
    return text


@dataclass(frozen=True, slots=True)
class TimelineRow:
    event_date: date
    event_type: str
    source: str
    source_ref: str
    action: ActionSeen | None


def timeline(case: dict[str, Any], actions: list[ActionSeen]) -> tuple[list[TimelineRow], list[ActionSeen]]:
    """The case's evidence in order, each ACTION_SUIVI entry matched with the action it
    stands for; and the actions of this case the engine has not reflected yet.

    An evidence entry names no event id, so actions are matched by (date, source_ref),
    in the order they were read: n entries for a (date, author) reflect the first n
    actions of that author on that date."""
    groups: dict[tuple[date, str], deque[ActionSeen]] = defaultdict(deque)
    for a in actions:
        groups[(a.event_date, a.source_ref)].append(a)
    rows = []
    for e in case.get("evidence") or ():
        matched = None
        if e["event_type"] == ACTION_SUIVI:
            queue = groups.get((e["event_date"], e["source_ref"]))
            matched = queue.popleft() if queue else None
        rows.append(TimelineRow(e["event_date"], e["event_type"], e.get("source") or "", e.get("source_ref") or "",
                                matched))
    pending = sorted((a for q in groups.values() for a in q), key=lambda a: a.event_date)
    return rows, pending
