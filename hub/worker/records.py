"""Case records on the output topics: who holds which record, and how they print.

Which topics hold a case (a pure function of the case record, so the observatories'
views, like cases.v1, depend only on the set of events — rules.md §3):

- `cases.v1` and the topic of the case's current observatory hold the full record;
- every *other* observatory that appears as `from_observatoire` in the case's
  `transfers` holds one `TRANSFERE` record (rules.md §6 "Moves"), its last word on a
  case that left it: no personal data (`person` null, `evidence` empty); `observatoire`
  and `assigned_to` ({"OBSERVATOIRE", code}) name that observatory itself, like every
  record on its topic; `closed_on` is the date the case left it (its last transfer out
  of it) and `transfers` the history up to that transfer, which says where it went;
  `type`, `opened_on` and `periode_essai` are kept, `alerted_on` and `outcome` are null.
- an observatory that held the case and no longer does (the case vanished, or a late
  event changed where it was routed from the start) gets a tombstone.

`hub cases` prints records exactly as interfaces.md shows them (`to_json_line`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from hub.types.cases import TRANSFERE

OBSERVATOIRE_ROLE = "OBSERVATOIRE"
FIELDS = (
    "case_id",
    "type",
    "status",
    "outcome",
    "observatoire",
    "assigned_to",
    "person",
    "opened_on",
    "alerted_on",
    "closed_on",
    "periode_essai",
    "evidence",
    "transfers",
)


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def transfere_record(case: dict, observatoire: str) -> dict:
    """The record an observatory keeps of a case that left it (see module doc)."""
    transfers = case["transfers"]
    last = max(i for i, t in enumerate(transfers) if t["from_observatoire"] == observatoire)
    return {
        "case_id": case["case_id"],
        "type": case["type"],
        "status": TRANSFERE,
        "outcome": None,
        "observatoire": observatoire,
        "assigned_to": {"role": OBSERVATOIRE_ROLE, "code": observatoire},
        "person": None,
        "opened_on": case["opened_on"],
        "alerted_on": None,
        "closed_on": transfers[last]["date"],
        "periode_essai": case.get("periode_essai"),
        "evidence": [],
        "transfers": [dict(t) for t in transfers[: last + 1]],
    }


def holders(case: dict) -> dict[str, dict]:
    """{observatory: the record its topic must hold} for one case."""
    current = case["observatoire"]
    out = {current: case}
    for t in case.get("transfers") or ():
        source = t["from_observatoire"]
        if source != current and source not in out:
            out[source] = transfere_record(case, source)
    return out


# -- printing ---------------------------------------------------------------------------


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def to_json_obj(case: dict) -> dict[str, Any]:
    """A decoded case record in the exact shape and key order of interfaces.md."""
    assigned = case.get("assigned_to") or {}
    person = case.get("person")
    return {
        "case_id": case["case_id"],
        "type": case["type"],
        "status": case["status"],
        "outcome": case.get("outcome"),
        "observatoire": case["observatoire"],
        "assigned_to": {"role": assigned.get("role"), "code": assigned.get("code")},
        "person": None
        if person is None
        else {
            "ine": person.get("ine") or None,
            "nom": person.get("nom"),
            "prenom": person.get("prenom"),
            "date_naissance": _iso(person.get("date_naissance")),
            "commune_residence": person.get("commune_residence"),
        },
        "opened_on": _iso(case.get("opened_on")),
        "alerted_on": _iso(case.get("alerted_on")),
        "closed_on": _iso(case.get("closed_on")),
        "periode_essai": case.get("periode_essai"),
        "evidence": [
            {
                "event_type": e["event_type"],
                "event_date": _iso(e["event_date"]),
                "source": e["source"],
                "source_ref": e["source_ref"],
            }
            for e in case.get("evidence") or ()
        ],
        "transfers": [
            {
                "date": _iso(t["date"]),
                "from_observatoire": t["from_observatoire"],
                "to_observatoire": t["to_observatoire"],
                "reason": t["reason"],
            }
            for t in case.get("transfers") or ()
        ],
    }


def to_json_line(case: dict) -> str:
    return json.dumps(to_json_obj(case), ensure_ascii=False)
