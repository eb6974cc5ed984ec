"""The case engine's processing logic, free of Faust: one partition's state in, sends out.

`PersonProcessor` does everything the person agent does to one message, against a
`Store` (the partition's slice of the `persons` table) and returns the records to send.
`ClockKeeper` does the same for the clock agent. The Faust shell (`app.py`) only reads
messages, calls these, sends what they return and writes the table; the tests drive the
same code with a dict.

Identity (rules.md §1), per message:

- an event with an INE (key = INE) joins that person; the first time the person shows a
  given name key, REGISTER(INE) goes to the name key digest;
- an INE-less event (key = name key digest) joins the identity record of its name key,
  and from there: no INE registered → the name key is a person of its own, evaluated in
  place; one INE → ASSIGN to that INE; two or more → a litige record
  (hub.identites.litiges.v1), no case;
- REGISTER at a name key that changes who its INE-less events belong to re-assigns every
  one of them (RETRACT from the former owner, ASSIGN to the new one or litige), so the
  result depends on the set of events, never on their order;
- a record whose Kafka key is not the person key computed here (counsellors' actions,
  keyed by case id) is re-routed: ROUTE keyed by its person key, one hop more.

Output (what changed since the last evaluation, per case): the record on cases.v1, the
records on the observatories' topics (see `records.holders`: the current observatory's
full record, a TRANSFERE record for every observatory the case was transferred from),
tombstones for what is gone (a case erased by retention or vanished after re-linking, an
observatory that no longer holds the case). A directory update that moves a case to
another observatory adds a transfer entry, reason "ANNUAIRE", dated by the hub's clock:
the rule core has no memory of where a case was, the worker does.

At-least-once: a message may be processed twice after a crash (Faust commits offsets
only after flushing the producer, but the table may already hold the state a message
produced). Every handler is idempotent on state and, when it sees it has already
applied a message (an event id it holds, an INE it registered…), it re-sends every
record that message implies ("force"): a replay never loses an output, and the
outputs are full states keyed by case id on compacted topics, so re-sending is
harmless. The shell makes a batch's state durable (its changelog awaited) before it
sends the batch's outputs, so a record that reached an output topic is always known to
the state a restart finds: the state never rolls back behind what was published, and
a case that existed only transiently (say, between an ASSIGN and its RETRACT) cannot
be left on a topic with nobody to tombstone it when a replay coalesces those messages
into one batch. Ticks and directory updates, which touch many persons, are made safe
the other way round: their outputs are flushed before their state is written (a replay
re-evaluates the same state at the same clock and sends the same records).
tests/worker/sim.py replays this under random crashes (uncommitted outputs partly
lost, state rolled back to any point since the last commit that is not behind a
published output, uncommitted messages delivered again, random batch sizes) and
checks the final views equal a clean run's.

Batches: the shell hands over the messages of a partition in batches (`Batch`). A
person's state is unpickled once per batch and written once at `flush`, and the rule
core runs once per person per batch, on the state after all its messages: outputs are
full states keyed by case id, so skipping the intermediate ones changes nothing the
compacted topics keep. A batch is flushed before a tick or a directory update is
applied, so every evaluation sees the clock and directory version it would have seen
message by message. A batch of one message is the message-by-message processing.

Directory transfers: the rule core routes a person's whole history with the current
directory; the worker, which knows what it published, keeps the past as it was. When
the directory version differs from the one of the person's last evaluation, every case
published before is given a history (`PersonState.history`): the transfers published
up to the hub's clock, plus, for an open case the rule core now puts in another
observatory, a transfer "ANNUAIRE" dated by the clock (rules.md §6: "re-routes open
cases whose territory changed owner"). From then on a case shows that history followed
by the rule core's transfers dated after it (`with_history`): an update that changes
who covers a territory the case only passed through rewrites nothing, and the
observatories it left keep their TRANSFERE records. A closed case that a directory
update would move is pinned to the observatory and counsellor it had
(`PersonState.pinned`), and so is one that an event received after the update closed
on or before its date (`_closed_before_update`): the update's move is undone, the case
was not open when it came.

Deadlines: `Evaluation.next_deadline` is indexed under `__due__:<p>:<ordinal>:<key>`
(the partition's keys sort by date); a tick to clock C re-evaluates the persons indexed
in (previous clock, C]; the first clock of a partition re-evaluates all its persons
(nothing could be indexed without a clock).

Logs never carry names or INEs: keys are shown as a short hash (`pseudo`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from hub.directory.routing import OBSERVATOIRE
from hub.identity import name_key_digest, person_key
from hub.kafka.topics import CASES, LITIGES, observatory_topic
from hub.logging import get_logger
from hub.rules import Evaluation, evaluate
from hub.rules.evidence import evidence_entry, transfer_entry
from hub.settings import RulesConfig
from hub.types.directory import Directory
from hub.types.cases import CLOS, RESOLU
from hub.types.events import ACTION_SUIVI, CLOCK_SOURCES
from hub.worker import messages
from hub.worker.records import digest, holders
from hub.worker.state import Emitted, PersonState, stored_event

log = get_logger("hub.worker")

DIRECTORY_TRANSFER = "ANNUAIRE"
INTERNAL_PREFIX = "__"


class Store(Protocol):
    """One partition's slice of a table: str keys, bytes values."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes) -> None: ...

    def delete(self, key: str) -> None: ...

    def scan(self, start: str | None, stop: str | None) -> Iterator[tuple[str, bytes]]:
        """Items with start <= key < stop (None: unbounded), in key order."""
        ...


@dataclass(slots=True)
class Send:
    """A record to produce. topic None = the worker's internal topic."""

    topic: str | None
    key: bytes | None
    value: bytes | None
    partition: int | None = None


class Overlay:
    """Writes kept aside until `apply()`: ticks and directory updates flush their
    outputs before their state is written (see module doc)."""

    def __init__(self, base: Store) -> None:
        self.base = base
        self.writes: dict[str, bytes | None] = {}

    def get(self, key: str) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)

    def put(self, key: str, value: bytes) -> None:
        self.writes[key] = value

    def delete(self, key: str) -> None:
        self.writes[key] = None

    def scan(self, start: str | None, stop: str | None) -> Iterator[tuple[str, bytes]]:
        raise NotImplementedError("no scans through an overlay")

    def apply(self) -> None:
        for key, value in self.writes.items():
            if value is None:
                self.base.delete(key)
            else:
                self.base.put(key, value)
        self.writes.clear()


class Batch:
    """One partition's messages handled together (see "Batches" in the module doc).

    Person states are read and unpickled once, kept as objects while the batch lasts and
    written once by `PersonProcessor.flush`; every evaluation asked for meanwhile is
    deferred to the flush, once per person (`force` if any message asked for it).
    """

    __slots__ = ("store", "partition", "states", "dirty", "pending", "_clock")

    def __init__(self, store: Store, partition: int) -> None:
        self.store = store
        self.partition = partition
        self.states: dict[str, PersonState] = {}
        self.dirty: dict[str, None] = {}  # insertion-ordered set
        self.pending: dict[str, bool] = {}  # person key → force
        self._clock: Any = _UNSET

    def load(self, key: str) -> PersonState:
        st = self.states.get(key)
        if st is None:
            st = self.states[key] = PersonState.from_bytes(self.store.get(key))
        return st

    def save(self, key: str, st: PersonState) -> None:
        self.states[key] = st
        self.dirty[key] = None

    def evaluate_later(self, key: str, force: bool) -> None:
        self.pending[key] = self.pending.get(key, False) or force

    def clock(self) -> date | None:
        if self._clock is _UNSET:
            raw = self.store.get(clock_key(self.partition))
            self._clock = date.fromordinal(int(raw)) if raw else None
        return self._clock

    def __len__(self) -> int:
        return len(self.dirty) + len(self.pending)


_UNSET: Any = object()


def where(exc: BaseException) -> str:
    """An exception for the logs without its message (which may quote personal data):
    its type and the innermost frames of its traceback."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    path = " < ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in reversed(frames))
    return f"{type(exc).__name__} at {path}" if path else type(exc).__name__


def pseudo(key: str) -> str:
    """A short non-reversible tag of a person key, for logs."""
    return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


def clock_key(partition: int) -> str:
    return f"__clock__:{partition}"


def directory_key(partition: int) -> str:
    return f"__dir__:{partition}"


def due_prefix(partition: int, day_ordinal: int) -> str:
    return f"__due__:{partition}:{day_ordinal:07d}:"


def due_key(partition: int, day: date, key: str) -> str:
    return due_prefix(partition, day.toordinal()) + key


def hold(held: dict[str, dict], event: dict) -> bool:
    """Keep `event` in `held` under its id; True when the id was there already (a replay).

    Two copies of one id are one fact, but may differ by when and where the hub received
    it (`received_at`, `source_ref`): a record posted over HTTP while a file holding it
    was being ingested; or by the INE, filled in a later export (the event ids of the
    Rectorat, Mission locale and CFA do not depend on the person). A copy with an INE is
    kept before one without (it is the person's own record, which a RETRACT of the copy
    linked by name must not take away: `_retract`), then the copy received first, then
    the smaller record, whatever order the copies arrive in (rules.md §3, determinism).
    The event is kept in its stored form (`state.stored_event`)."""
    event = stored_event(event)
    eid = event["event_id"]
    old = held.get(eid)
    if old is None:
        held[eid] = event
        return False
    if old != event and _kept_first(event) < _kept_first(old):
        held[eid] = event
    return True


def _kept_first(event: dict) -> tuple:
    return not _ine_of(event), event["received_at"], repr(event)


def _ine_of(event: dict) -> str | None:
    return (event.get("person") or {}).get("ine")


def _link(links: dict, eid: str, nd: str, before: dict | None, event: dict) -> None:
    """Record that name key `nd` linked `event`, an INE-less copy of fact `eid` just
    held; `before` is the copy held until then (see `PersonState.links`)."""
    linked = links.get(eid)
    if linked is None or linked == nd or before is None:
        links[eid] = nd
        return
    if isinstance(linked, str):  # a second spelling: keep each linker's own copy
        linked = links[eid] = {linked: before}
    copy, mine = stored_event(event), linked.get(nd)
    if mine is None or _kept_first(copy) < _kept_first(mine):
        linked[nd] = copy


def _unlink(links: dict, eid: str, nd: str | None, held: dict) -> dict | None:
    """Name key `nd` no longer links fact `eid`: the copy to hold now, or None when no
    name key links it any more (so for a RETRACT or a state written before links)."""
    linked = links.get(eid)
    if nd is None or linked is None or linked == nd:
        links.pop(eid, None)
        return None
    if isinstance(linked, str):  # `nd` never linked it (a RETRACT delivered again)
        return held
    linked.pop(nd, None)
    best, copy = min(linked.items(), key=lambda item: _kept_first(item[1]))
    if len(linked) == 1:
        links[eid] = best
    return copy


_EMPTY = Evaluation()
CLOSED_STATUSES = (RESOLU, CLOS)


class PersonProcessor:
    """The person agent's logic (see module doc). One instance serves every partition."""

    def __init__(
        self,
        *,
        codec: Any,
        secret: str,
        rules: RulesConfig,
        directory: Callable[[], tuple[Directory, str]],
        evaluate_fn: Callable[..., Evaluation] = evaluate,
    ) -> None:
        self.codec = codec
        self.secret = secret
        self.rules = rules
        self.directory = directory
        self.evaluate_fn = evaluate_fn
        self._encode_case = codec.encoder("case")
        self._encode_litige = codec.encoder("litige")
        self.errors = 0  # evaluations that raised (logged, state kept)

    # -- keys ------------------------------------------------------------------------
    # Both keys are pure functions of the person fields (name_key_digest is memoised: it
    # spares the Unicode normalisation and the HMAC for the many events of one person).

    def person_key_of(self, event: dict) -> str:
        p = event["person"]
        return person_key(p.get("ine"), p["nom"], p["prenom"], p["date_naissance"], self.secret)

    def name_digest_of(self, event: dict) -> str:
        p = event["person"]
        return name_key_digest(p["nom"], p["prenom"], p["date_naissance"], self.secret)

    # -- state -----------------------------------------------------------------------

    @staticmethod
    def clock(store: Store, partition: int) -> date | None:
        raw = store.get(clock_key(partition))
        return date.fromordinal(int(raw)) if raw else None

    # -- messages --------------------------------------------------------------------
    #
    # Each handler reads and changes states through the batch, asks for evaluations
    # (deferred to `flush`) and returns the records that do not depend on an evaluation.

    def on_source(self, b: Batch, key: bytes | None, value: bytes) -> list[Send]:
        """A record of a source topic (raises CodecError when it does not decode)."""
        event = self.codec.decode(value)
        return self._route(b, key, event, value)

    def on_internal(self, b: Batch, key: bytes | None, msg: messages.Internal) -> list[Send]:
        """ROUTE, ASSIGN, RETRACT, REGISTER (ticks and directory have their own calls)."""
        k = key.decode() if key is not None else ""
        if msg.kind == messages.ROUTE:
            return self._route(b, key, self.codec.decode(msg.payload), msg.payload)
        if msg.kind == messages.ASSIGN:
            return self._assign(b, k, self.codec.decode(msg.payload))
        if msg.kind == messages.RETRACT:
            return self._retract(b, k, *msg.retracted)
        if msg.kind == messages.REGISTER:
            return self._register(b, k, msg.text)
        raise messages.BadMessage(f"{msg.kind!r} is not handled by on_internal")

    def flush(self, b: Batch) -> list[Send]:
        """Run the batch's deferred evaluations, write its states; the records to send."""
        outs: list[Send] = []
        if b.pending:
            clock = b.clock()
            for key, force in b.pending.items():
                outs += self._evaluate(b.store, b.partition, key, b.states[key], force=force, clock=clock)
            b.pending.clear()
        put = b.store.put
        for key in b.dirty:
            put(key, b.states[key].to_bytes())
        b.dirty.clear()
        return outs

    def _route(self, b: Batch, key: bytes | None, event: dict, raw: bytes) -> list[Send]:
        pk = self.person_key_of(event)
        if key is None or key.decode() != pk:
            return [Send(None, pk.encode(), messages.route(raw))]
        if event["person"].get("ine"):
            return self._on_ine_event(b, pk, event)
        return self._on_nameless(b, pk, event)

    def _on_ine_event(self, b: Batch, ine: str, event: dict) -> list[Send]:
        st = b.load(ine)
        replay = hold(st.events, event)
        outs: list[Send] = []
        # Counsellors' actions copy the case's identity: not a source of name keys.
        if event["event_type"] != ACTION_SUIVI:
            nd = self.name_digest_of(event)
            if replay or nd not in st.registered:
                st.registered.add(nd)
                outs.append(Send(None, nd.encode(), messages.register(ine)))
        b.evaluate_later(ine, replay)
        b.save(ine, st)
        return outs

    def _on_nameless(self, b: Batch, nd: str, event: dict) -> list[Send]:
        st = b.load(nd)
        replay = hold(st.nameless, event)
        event = st.nameless[event["event_id"]]
        who = st.assignee
        outs: list[Send] = []
        if who is None:
            hold(st.events, event)
            b.evaluate_later(nd, replay)
        elif who == PersonState.LITIGE:
            outs = [self._litige(nd, st.ines, event)]
        else:
            outs = [Send(None, who.encode(), messages.assign(self.codec.encode_event(event)))]
        b.save(nd, st)
        return outs

    def _register(self, b: Batch, nd: str, ine: str) -> list[Send]:
        st = b.load(nd)
        outs: list[Send] = []
        if ine in st.ines:  # a replay: re-send what the registration implied
            who = st.assignee
            for old in st.former:
                if old != who:
                    outs += [Send(None, old.encode(), messages.retract(eid, nd)) for eid in st.nameless]
            if st.emitted or st.ghosts or nd in b.pending:  # tombstones of the name key's own former cases
                b.evaluate_later(nd, True)
                b.save(nd, st)
            return outs + self._forward_all(nd, st, who)
        old = st.assignee
        st.ines = sorted({*st.ines, ine})
        new = st.assignee
        if old is None:
            # The name key stops being a person of its own: its cases vanish.
            for eid in st.nameless:
                st.events.pop(eid, None)
            b.evaluate_later(nd, False)
        elif old != new:
            outs += [Send(None, old.encode(), messages.retract(eid, nd)) for eid in st.nameless]
            if old not in st.former:
                st.former.append(old)
        outs += self._forward_all(nd, st, new)
        b.save(nd, st)
        return outs

    def _forward_all(self, nd: str, st: PersonState, who: str | None) -> list[Send]:
        if who is None or not st.nameless:
            return []
        events = sorted(st.nameless.values(), key=lambda e: e["event_id"])
        if who == PersonState.LITIGE:
            return [self._litige(nd, st.ines, e) for e in events]
        return [Send(None, who.encode(), messages.assign(self.codec.encode_event(e))) for e in events]

    def _assign(self, b: Batch, ine: str, event: dict) -> list[Send]:
        st = b.load(ine)
        eid = event["event_id"]
        before = st.events.get(eid)
        replay = hold(st.events, event)
        if not _ine_of(st.events[eid]):
            _link(st.links, eid, self.name_digest_of(event), before, event)
        b.evaluate_later(ine, replay)
        b.save(ine, st)
        return []

    def _retract(self, b: Batch, ine: str, event_id: str, nd: str | None = None) -> list[Send]:
        st = b.load(ine)
        held = st.events.get(event_id)
        # A copy with the INE is the person's own record of that fact (rules.md §1: "A
        # record with an INE stays with its INE"); only a copy linked by name goes, and
        # only when no other name key (the fact spelled otherwise) links it too.
        if held is not None and not _ine_of(held):
            kept = _unlink(st.links, event_id, nd, held)
            if kept is None:
                del st.events[event_id]
            else:
                st.events[event_id] = kept
        # Always `force`: an ASSIGN and its RETRACT delivered again in one batch after a
        # crash cancel out, so neither looks like a replay, while the tombstones the first
        # attempt sent may be lost; forcing re-sends those of the person's gone cases
        # (ghosts). RETRACTs are rare (a name key gaining an INE), the cost is small.
        b.evaluate_later(ine, True)
        b.save(ine, st)
        return []

    def _litige(self, nd: str, ines: Iterable[str], event: dict) -> Send:
        record = {
            "name_key_digest": nd,
            "candidates": sorted(ines),
            "event": self.codec.encode_event(event),
            "event_id": event["event_id"],
            "received_at": event["received_at"],
        }
        return Send(LITIGES, nd.encode(), self._encode_litige(record))

    # -- ticks and directory updates -----------------------------------------------------

    def tick_targets(self, store: Store, partition: int, clock: date) -> list[tuple[str, str | None]] | None:
        """Who a tick to `clock` re-evaluates: [(person key, due index key or None)], or
        None when this partition's clock is already there (a replayed tick)."""
        current = self.clock(store, partition)
        if current is not None and clock <= current:
            return None
        if current is None:  # first clock: nothing could be indexed before, see everyone
            return [(k, None) for k in self.person_keys(store)]
        start = due_prefix(partition, current.toordinal() + 1)
        stop = due_prefix(partition, clock.toordinal() + 1)
        return [(k.split(":", 3)[3], k) for k, _ in store.scan(start, stop)]

    @staticmethod
    def set_clock(store: Store, partition: int, clock: date) -> None:
        store.put(clock_key(partition), str(clock.toordinal()).encode())

    def directory_targets(self, store: Store, partition: int, offset: int, version: str) -> list[str] | None:
        """Persons to re-route after the directory record at `offset`, or None when this
        partition has already applied it (a replay). The same directory loaded again
        (same version hash) re-routes nobody."""
        raw = store.get(directory_key(partition))
        if raw is not None:
            last_offset, _, last_version = raw.decode().partition(" ")
            if offset <= int(last_offset):
                return None
            if version == last_version:
                return []
        return self.person_keys(store)

    @staticmethod
    def set_directory(store: Store, partition: int, offset: int, version: str) -> None:
        store.put(directory_key(partition), f"{offset} {version}".encode())

    @staticmethod
    def person_keys(store: Store) -> list[str]:
        return [k for k, _ in store.scan(None, None) if not k.startswith(INTERNAL_PREFIX)]

    def reevaluate(
        self,
        store: Store,
        partition: int,
        key: str,
        *,
        clock: date | None,
        due: str | None = None,
        only_published: bool = False,
    ) -> list[Send]:
        """Evaluate one person again (tick, directory update); `due` is the index entry
        that woke it up, removed once handled."""
        raw = store.get(key)
        st = PersonState.from_bytes(raw)
        outs: list[Send] = []
        if st.events or st.emitted:
            # A directory update changes nothing for a person last routed with it.
            if not only_published or (st.emitted and st.dir_version != self.directory()[1]):
                outs = self._evaluate(store, partition, key, st, force=False, clock=clock)
                data = st.to_bytes()
                if data != raw:  # an early wake-up often changes nothing: no write, no changelog
                    store.put(key, data)
        if due is not None and (st.deadline is None or due != due_key(partition, st.deadline, key)):
            store.delete(due)
        return outs

    # -- evaluation and output -------------------------------------------------------------

    def _evaluate(
        self, store: Store, partition: int, key: str, st: PersonState, *, force: bool, clock: date | None
    ) -> list[Send]:
        directory, version = self.directory()
        ev = _EMPTY
        if st.events and clock is not None:
            try:
                # An INE's registered name keys are the keys its linked INE-less cases had.
                ev = self.evaluate_fn(key, list(st.events.values()), clock, directory, self.rules,
                                      aliases=st.registered)
            except Exception as exc:  # noqa: BLE001 — one person's bad data must not stop the partition
                self.errors += 1
                log.error("evaluation failed; previous outputs kept", person=pseudo(key), events=len(st.events),
                          error=where(exc))
                return []
        outs = self._emit(st, ev, clock, version, force)
        self._index_deadline(store, partition, key, st, ev.next_deadline, clock)
        return outs

    def _index_deadline(
        self, store: Store, partition: int, key: str, st: PersonState, deadline: date | None, clock: date | None
    ) -> None:
        new = deadline if deadline is not None and clock is not None and deadline > clock else None
        if new != st.deadline:
            if st.deadline is not None:
                store.delete(due_key(partition, st.deadline, key))
            if new is not None:
                store.put(due_key(partition, new, key), b"")
            st.deadline = new

    def _emit(self, st: PersonState, ev: Evaluation, clock: date | None, version: str, force: bool) -> list[Send]:
        outs: list[Send] = []
        directory_changed = st.dir_version is not None and version != st.dir_version
        emitted: dict[str, Emitted] = {}
        held_facts: set[tuple] | None = None  # the person's events as evidence entries, when needed
        for case in ev.cases:
            cid = case["case_id"]
            prev = st.emitted.get(cid)
            if case["status"] in CLOSED_STATUSES:
                undone = _closed_before_update(case, st.history.get(cid))
                if undone is not None:
                    st.history[cid], st.pinned[cid] = undone
                pin = st.pinned.get(cid)
                if (
                    pin is None
                    and prev is not None
                    and directory_changed
                    and prev.assigned_to is not None
                    and (case["observatoire"], case["assigned_to"]) != (prev.observatoire, prev.assigned_to)
                ):
                    pin = st.pinned[cid] = (prev.observatoire, prev.assigned_to)
                if pin is not None:
                    case = {**case, "observatoire": pin[0], "assigned_to": pin[1]}
            else:
                st.pinned.pop(cid, None)
            if prev is not None and directory_changed and clock is not None:
                st.history[cid] = _lived_through_update(case, prev, clock, st.history.get(cid))
            history = st.history.get(cid)
            if history is not None:
                if len(history) > 4 and history[4] and held_facts is None:
                    held_facts = {_fact(evidence_entry(e)) for e in st.events.values()}
                case = with_history(case, history, held_facts)
            data = self._encode_case(case)
            d = digest(data)
            held: dict[str, bytes] = {}
            for obs, record in holders(case).items():
                rdata = data if record is case else self._encode_case(record)
                rd = digest(rdata)
                held[obs] = rd
                if force or prev is None or prev.holders.get(obs) != rd:
                    outs.append(Send(observatory_topic(obs), cid.encode(), rdata))
            if force or prev is None or prev.cases_digest != d:
                outs.append(Send(CASES, cid.encode(), data))
            left = [obs for obs in prev.holders if obs not in held] if prev is not None else []
            for obs in left:
                outs.append(Send(observatory_topic(obs), cid.encode(), None))
            # An observatory that held the case and holds nothing of it now is a ghost
            # holder: a replay re-sends its tombstone (the batch that sent it may have lost
            # its outputs after its state was written), as for a case gone.
            former = [obs for obs in st.ghosts.get(cid, ()) if obs not in held and obs not in left]
            if force:
                outs += [Send(observatory_topic(obs), cid.encode(), None) for obs in former]
            if former or left:
                st.add_ghost(cid, (*former, *left))
            else:
                st.ghosts.pop(cid, None)
            emitted[cid] = Emitted(d, case["observatoire"], held, case["assigned_to"], tuple(case["transfers"]),
                                   tuple(ev.moves.get(cid, ())))
        tombstoned: set[str] = set()
        for cid, prev in st.emitted.items():
            if cid not in emitted:
                outs += self._tombstones(cid, prev.holders)
                earlier = [obs for obs in st.ghosts.get(cid, ()) if obs not in prev.holders]
                st.add_ghost(cid, (*earlier, *prev.holders))
                st.history.pop(cid, None)
                st.pinned.pop(cid, None)
                tombstoned.add(cid)
        for cid in ev.erased:
            if cid not in emitted and cid not in tombstoned and cid not in st.ghosts:
                # Erased before this worker ever published it (state rebuilt from old
                # events): cases.v1 may still hold it from an earlier run.
                outs += self._tombstones(cid, ())
                st.add_ghost(cid, ())
                tombstoned.add(cid)
        if force:
            for cid, held_by in st.ghosts.items():
                if cid not in tombstoned and cid not in emitted:
                    outs += self._tombstones(cid, held_by)
        st.emitted = emitted
        st.dir_version = version
        return outs

    @staticmethod
    def _tombstones(cid: str, held_by: Iterable[str]) -> list[Send]:
        key = cid.encode()
        return [Send(CASES, key, None), *(Send(observatory_topic(obs), key, None) for obs in held_by)]


def owner_at(transfers: Iterable[dict], final: str, day: date) -> str:
    """The observatory holding, at the end of `day`, a case whose transfers are
    `transfers` (in date order) and which ends at `final`."""
    for t in transfers:
        if t["date"] > day:
            return t["from_observatoire"]
    return final


History = tuple  # (day, kept transfers, holder, moves, evidence of moves): see _lived_through_update


def _lived_through_update(case: dict, prev: Emitted, day: date, history: History | None = None) -> History:
    """A case's history when a directory update reaches it on `day`: the transfers
    published up to then, plus — for an open case whose observatory the update changes —
    a transfer "ANNUAIRE" dated `day` from where the case was to where the rule core,
    with the new directory, now puts it (a closed case is pinned instead); the holder
    then; the directory moves made so far, each as (day, observatory and counsellor
    before it), for `_closed_before_update`; and the evidence entries of the residence
    moves published up to then: the new directory may make them no move, but what they
    changed stays published (`with_history`)."""
    kept = [t for t in prev.transfers if t["date"] <= day]
    holder = owner_at(prev.transfers, prev.observatoire, day)
    moves = tuple(history[3]) if history is not None and len(history) > 3 else ()
    evidence = _union(history[4] if history is not None and len(history) > 4 else (),
                      [e for e in prev.moves if e["event_date"] <= day])
    if case["status"] not in CLOSED_STATUSES:
        now = owner_at(case["transfers"], case["observatoire"], day)
        if now != holder:
            kept.append(transfer_entry(day, holder, now, DIRECTORY_TRANSFER))
            # The counsellor is known for the case's last observatory only (a move dated
            # after the update may have taken it further): elsewhere, the observatory's.
            before = prev.assigned_to if holder == prev.observatoire and prev.assigned_to else \
                {"role": OBSERVATOIRE, "code": holder}
            moves = (*moves, (day, holder, before))
            holder = now
    return day, kept, holder, moves, evidence


def _closed_before_update(case: dict, history: History | None) -> tuple[History, tuple[str, dict]] | None:
    """For a closed case that directory updates moved while it looked open, when an
    event received since closed it on or before the first of those updates (rules.md
    §6 re-routes open cases; §3: the result cannot depend on when the closing arrived):
    its history without those moves, and the owner (observatory, counsellor) it had
    before them, to pin. None when no move is undone."""
    if history is None or len(history) < 4:  # histories written before moves were kept
        return None
    day, kept, _, moves = history[:4]
    late = [m for m in moves if m[0] >= case["closed_on"]]
    if not late:
        return None
    since, owner, assigned = late[0]
    kept = [t for t in kept if t["date"] < since]
    evidence = tuple(e for e in (history[4] if len(history) > 4 else ()) if e["event_date"] < since)
    return (day, kept, owner, tuple(m for m in moves if m[0] < since), evidence), (owner, assigned)


def _fact(entry: dict) -> tuple:
    return entry["event_type"], entry["event_date"], entry["source"], entry["source_ref"]


def _union(first: Iterable[dict], then: Iterable[dict]) -> tuple[dict, ...]:
    seen: set[tuple] = set()
    out = []
    for e in (*first, *then):
        if _fact(e) not in seen:
            seen.add(_fact(e))
            out.append(e)
    return tuple(out)


def with_history(case: dict, history: History, held_facts: set[tuple] | None = None) -> dict:
    """The case with the transfers it had published up to its last directory update,
    then the rule core's own after that day. An event dated up to that day and received
    since may have moved the case meanwhile: a transfer from the holder then bridges the
    two, dated by the rule core's move there (the chain stays one, link by link).

    Its evidence keeps the moves published up to the update that the rule core, with
    the new directory, no longer counts as moves (in event-date order; `held_facts`, the
    person's events as evidence entries: a move the person no longer holds — a record
    linked by name, gone into dispute — goes)."""
    day, kept, holder = history[:3]
    moved = history[4] if len(history) > 4 else ()
    if moved:
        evidence = case["evidence"]
        known = {_fact(e) for e in evidence}
        extra = [e for e in moved if _fact(e) not in known and (held_facts is None or _fact(e) in held_facts)]
        if extra:
            case = {**case, "evidence": _merged(evidence, extra)}
    transfers = case["transfers"]
    after = [t for t in transfers if t["date"] > day]
    now = after[0]["from_observatoire"] if after else case["observatoire"]
    bridge = []
    if now != holder:
        moves = [t["date"] for t in transfers if t["date"] <= day and t["to_observatoire"] == now]
        # Not before the last link kept: the chain stays in date order.
        when = max(moves[-1], *(t["date"] for t in kept[-1:])) if moves else day
        bridge = [transfer_entry(when, holder, now)]
    return {**case, "transfers": [*kept, *bridge, *after]}


def _merged(evidence: list[dict], extra: list[dict]) -> list[dict]:
    """`evidence` (in event-date order) with `extra` inserted, each after the entries of
    its date."""
    out = list(evidence)
    for e in sorted(extra, key=lambda e: e["event_date"]):
        at = len(out)
        while at > 0 and out[at - 1]["event_date"] > e["event_date"]:
            at -= 1
        out.insert(at, e)
    return out


class ClockKeeper:
    """The clock agent's logic over its one-partition table.

    Keys: `wm:<source>` → the source's highest as_of (ordinal), `__clock__` → the clock
    last announced, `__offset__` → the last watermark offset applied (a record at or
    below it is a replay: the ticks are sent again, they may have been lost).
    """

    def __init__(self, codec: Any, sources: Iterable[str] = CLOCK_SOURCES) -> None:
        self.codec = codec
        self.sources = tuple(sources)

    def on_watermark(self, store: Store, offset: int, value: bytes | None) -> date | None:
        """Apply one record of hub.watermarks.v1; the clock to announce, or None."""
        last = store.get("__offset__")
        replay = last is not None and offset <= int(last)
        if value is not None:
            wm = self.codec.decode(value)
            source, as_of = wm["source"], wm["as_of"]
            raw = store.get(f"wm:{source}")
            if raw is None or as_of.toordinal() > int(raw):
                store.put(f"wm:{source}", str(as_of.toordinal()).encode())
        clock = self.clock(store)
        raw = store.get("__clock__")
        previous = date.fromordinal(int(raw)) if raw else None
        changed = clock is not None and clock != previous
        if changed:
            store.put("__clock__", str(clock.toordinal()).encode())
        if not replay:
            store.put("__offset__", str(offset).encode())
        return clock if (changed or (replay and clock is not None)) else None

    def clock(self, store: Store) -> date | None:
        values = []
        for source in self.sources:
            raw = store.get(f"wm:{source}")
            if raw is None:
                return None
            values.append(int(raw))
        return date.fromordinal(min(values))
