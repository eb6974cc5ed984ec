"""What the worker keeps per key in its `persons` table, and its compact serialisation.

One value per table key. A key is either

- a **person key**: an INE, or the digest `n-…` of a name key that no INE claims (a
  person known by name only), whose `events` are the events the rule core evaluates; or
- a **name key digest** (`n-…`) also acting as the **identity record** of that name key:
  `nameless` holds every INE-less event received under the name key and `ines` the INEs
  registered for it. With no INE the name key is a person of its own (its `events` are
  its `nameless` events); with one INE they are assigned to that INE; with two or more
  they are in dispute (litige) and belong to nobody.

Besides the events, a person remembers what it published, so that each evaluation emits
only what changed and a replay can re-send it:

- `emitted[case_id]` = (digest of the record on cases.v1, the case's observatory, {observatory:
  digest of the record on that observatory's topic}, the case's counsellor, the transfers
  published, the evidence entries of its moves when it has some);
- `ghosts[case_id]` = observatories that held a case now gone (tombstoned), or that held
  a case still there and hold nothing of it any more, to re-send the tombstones if the
  replay of an interrupted run asks for it (bounded);
- `history[case_id]` = (date of the last directory update the case lived through, the
  transfers published up to that date — the update's own "ANNUAIRE" entry included —,
  the observatory holding the case then, the directory moves made: (date, observatory
  and counsellor before it) — older states have no moves —, the evidence entries of the
  moves published up to that date — older states have none): the rule core routes the
  whole history with the current directory, but what was published before an update
  stays as it was (core.py, "Directory transfers");
- `pinned[case_id]` = (observatory, assigned_to) of a *closed* case at the directory
  update that would have moved it: rules.md §6 re-routes open cases only, so a closed
  case keeps the owner it had (the rule core routes from the current directory);
- `links[event_id]` = who linked an INE-less event to this INE: the name key digest
  whose copy `events` holds, or, once two name keys (two spellings of one fact) linked
  it, {digest: its copy}; a RETRACT from one of them takes the fact away only when no
  other name key links it (core.py `_retract`). No entry while a copy with the INE is
  held: the INE's own record never goes;
- `dir_version`: the directory version of the last evaluation; `deadline`: the
  `next_deadline` indexed for this person.

The table is internal to the worker: values are pickled (protocol 5) plain tuples,
written and read only by this module. Never read a table value from anywhere else.
Events are kept as decoded, except `received_at`, kept as epoch milliseconds
(`stored_event`): the rule core never reads it, and an aware `datetime` is what made
pickling a state slow (10 → 5 µs for three events).
They are read back with `safe_loads`, which refuses every global but a few `datetime`
types: the table's changelog is a topic, and whoever can write to a topic must not be
able to run code in the worker (the same rule as messages.py).
"""

from __future__ import annotations

import datetime
import io
import pickle
from dataclasses import dataclass, field
from datetime import date

_FORMAT = 2  # 1: events' received_at as datetime
MAX_GHOSTS = 64
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MS = datetime.timedelta(milliseconds=1)


# What a state may refer to besides builtins (decoded Avro dates and timestamps).
_ALLOWED = {("datetime", n): getattr(datetime, n) for n in ("date", "datetime", "time", "timedelta", "timezone")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name} in a worker state") from None


def safe_loads(data: bytes):
    """`pickle.loads` that can build plain data and dates, nothing that runs code."""
    return _Unpickler(io.BytesIO(data)).load()


def stored_event(event: dict) -> dict:
    """`event` as a state keeps it: `received_at` in epoch milliseconds (Avro's
    timestamp-millis, which the codec encodes as it is)."""
    at = event["received_at"]
    if not isinstance(at, datetime.datetime):
        return event
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.UTC)
    return {**event, "received_at": (at - _EPOCH) // _MS}


@dataclass(slots=True)
class Emitted:
    cases_digest: bytes
    observatoire: str  # the case's observatory at that emission
    holders: dict[str, bytes]  # observatory code → digest of the record on its topic
    assigned_to: dict | None = None  # the case's counsellor at that emission
    transfers: tuple[dict, ...] = ()  # the case's transfers at that emission
    moves: tuple[dict, ...] = ()  # the evidence entries of its moves (`Evaluation.moves`)


def _emitted(t: tuple) -> Emitted:
    if len(t) == 5 and isinstance(t[3], int):  # written with the former count of transfers
        return Emitted(t[0], t[1], t[2], t[4])
    return Emitted(*t)


@dataclass(slots=True)
class PersonState:
    events: dict[str, dict] = field(default_factory=dict)
    nameless: dict[str, dict] = field(default_factory=dict)
    ines: list[str] = field(default_factory=list)
    former: list[str] = field(default_factory=list)
    registered: set[str] = field(default_factory=set)
    emitted: dict[str, Emitted] = field(default_factory=dict)
    ghosts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    history: dict[str, tuple] = field(default_factory=dict)  # see the module doc
    pinned: dict[str, tuple[str, dict]] = field(default_factory=dict)
    links: dict[str, str | dict[str, dict]] = field(default_factory=dict)  # see the module doc
    dir_version: str | None = None
    deadline: date | None = None

    # -- identity ---------------------------------------------------------------------

    SELF = None
    LITIGE = "LITIGE"

    @property
    def assignee(self) -> str | None:
        """Who the INE-less events of this name key belong to: None (the name key is a
        person of its own), an INE, or LITIGE."""
        if not self.ines:
            return None
        if len(self.ines) == 1:
            return self.ines[0]
        return self.LITIGE

    def add_ghost(self, case_id: str, holders: tuple[str, ...]) -> None:
        self.ghosts.pop(case_id, None)
        self.ghosts[case_id] = holders
        while len(self.ghosts) > MAX_GHOSTS:
            self.ghosts.pop(next(iter(self.ghosts)))

    @property
    def is_empty(self) -> bool:
        return not (self.events or self.nameless or self.ines or self.registered or self.emitted or self.ghosts)

    # -- serialisation ----------------------------------------------------------------

    def to_bytes(self) -> bytes:
        emitted = {cid: (e.cases_digest, e.observatoire, e.holders, e.assigned_to, e.transfers, e.moves)
                   if e.moves else (e.cases_digest, e.observatoire, e.holders, e.assigned_to, e.transfers)
                   for cid, e in self.emitted.items()}
        return pickle.dumps(
            (
                _FORMAT,
                self.events,
                self.nameless,
                self.ines,
                self.former,
                self.registered,
                emitted,
                self.ghosts,
                self.history,
                self.dir_version,
                self.deadline,
                self.pinned,
                self.links,
            ),
            protocol=5,
        )

    @classmethod
    def from_bytes(cls, data: bytes | None) -> PersonState:
        if not data:
            return cls()
        t = safe_loads(data)
        if t[0] not in (1, _FORMAT):
            raise ValueError(f"unknown person state format {t[0]!r}")
        (fmt, events, nameless, ines, former, registered, emitted, ghosts, history, dir_version, deadline) = t[:11]
        if fmt == 1:
            events = {eid: stored_event(e) for eid, e in events.items()}
            nameless = {eid: stored_event(e) for eid, e in nameless.items()}
        pinned = t[11] if len(t) > 11 else {}  # states written before pins existed
        links = t[12] if len(t) > 12 else {}  # … and before links
        # States written before histories held lists of directory transfers there.
        history = {cid: h for cid, h in history.items() if isinstance(h, tuple)}
        return cls(
            events,
            nameless,
            ines,
            former,
            registered,
            {cid: _emitted(e) for cid, e in emitted.items()},
            ghosts,
            history,
            pinned,
            links,
            dir_version,
            deadline,
        )
