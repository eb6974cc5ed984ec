"""Interfaces shared by every connector (read → validate → map → publish → account).

The Kafka side (Sink, SeenEvents, SnapshotStore) is implemented elsewhere behind the
protocols below; `connectors.core.memory` has in-memory versions for unit tests.

Vocabulary:
- a *record* is one unit read from a file (a CSV line, a JSON line, an ELEVE element);
  every record ends in exactly one of published / unchanged / filtered / rejected;
- a record is *validated and mapped* into zero or more events (`Mapped`), or refused
  (`Rejected`, one or more `Rejection`s, the first giving the dead letter's reason);
- a mapped record is then *screened* (under-15 filter, FUTURE_DATE) into `Accepted`,
  `Filtered` or `Rejected` — the same screening the HTTP endpoint uses for one record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from hub.types.directory import Directory

# Reason codes of inputs.md. The field-level ones come from hub.validation; these are
# the two the connectors add.
FUTURE_DATE = "FUTURE_DATE"
BAD_JSON = "BAD_JSON"

# A dead letter's `row` (a map of strings) also carries what validating the record again
# (`hub dlq replay`) needs besides its own fields: the as-of it was checked against for
# FUTURE_DATE, under this key (ISO date; no column, element or JSON key of a source is
# named so), and for SIECLE the UAJ of its file (`uaj`, as a pupil posted alone gives it).
# A dead letter without it (older versions, or a run with no as-of to check against) is
# replayed without FUTURE_DATE check, as before.
REPLAY_AS_OF = "@as_of"

Event = dict[str, Any]
# progress(done, total): bytes of input processed so far and in all (a pass over an XML
# file counts its size once for the well-formedness pass and once for the publish pass).
Progress = Callable[[int, int], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record is refused: a reason code of inputs.md and a readable detail."""

    reason: str
    detail: str
    field: str | None = None  # the column / element / JSON key at fault, when one is

    def as_dict(self) -> dict[str, str | None]:
        return {"reason": self.reason, "detail": self.detail, "field": self.field}


class RawRecord:
    """One record as read: its raw text and where it comes from.

    `row` is the record keyed by column (CSV, lower-case names), element (SIECLE) or the
    parsed JSON object (CTI); None when the reader could not even split it, in which
    case `error` says why (wrong number of fields, invalid JSON).

    `raw` may be given as a callable returning the text, read only when needed (a dead
    letter): SIECLE keeps the element's byte range and reads it back from the file.
    A plain class with slots (one is made per record: no dataclass machinery).
    """

    __slots__ = ("_raw", "error", "file", "position", "ref", "row")

    def __init__(self, file: str, position: str, ref: str, raw: str | Callable[[], str],
                 row: Mapping[str, Any] | None = None, error: Rejection | None = None) -> None:
        self.file = file  # file name only (never part of an event id)
        self.position = position  # "line 42", "ELEVE[17]"
        self.ref = ref  # the events' source_ref: "file.csv:42", "export.xml:ELEVE[17]"
        self._raw = raw
        self.row = row
        self.error = error

    @property
    def raw(self) -> str:
        raw = self._raw
        return raw if raw.__class__ is str else raw()

    def __repr__(self) -> str:
        return f"RawRecord({self.file!r}, {self.position!r}, {self.ref!r}, row={self.row!r}, error={self.error!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RawRecord):
            return NotImplemented
        return (self.file, self.position, self.ref, self.raw, self.row, self.error) == (
            other.file, other.position, other.ref, other.raw, other.row, other.error)

    __hash__ = None  # type: ignore[assignment]


@dataclass(slots=True)
class Mapped:
    """A valid record and the events it gives (possibly none: an unchanged pupil)."""

    events: list[Event]
    warnings: int = 0  # data-quality warnings (invalid INE dropped)
    # Upper bound for FUTURE_DATE when the record's file has its own (SIECLE: its
    # DATE_EXPORT); None → the run's --as-of, or no check when the as-of is the default.
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A refused record: every problem found, the first one is the dead letter's reason.

    `event_date`: the record's event date when it could be read although the record is
    refused for something else — it still counts for the default as-of (inputs.md: "the
    latest date in the file"), which a bad date cannot. `born`: the person's date of
    birth when it could be read, so that a refused record about someone under 15 is
    filtered rather than dead-lettered (runner.screen_rejected)."""

    rejections: tuple[Rejection, ...]
    event_date: date | None = None
    born: date | None = None

    @property
    def reason(self) -> str:
        return self.rejections[0].reason

    @property
    def detail(self) -> str:
        return "; ".join(r.detail for r in self.rejections)

    @classmethod
    def one(cls, reason: str, detail: str, field: str | None = None) -> Rejected:
        return cls((Rejection(reason, detail, field),))


@dataclass(frozen=True, slots=True)
class Accepted:
    """A screened record: the (person key, event) pairs to publish unless already seen."""

    events: tuple[tuple[str, Event], ...]
    warnings: int = 0

    @property
    def event_ids(self) -> list[str]:
        return [e["event_id"] for _, e in self.events]


@dataclass(frozen=True, slots=True)
class Filtered:
    """A record about a person under 15 at every one of its event dates: never published."""

    warnings: int = 0


Verdict = Accepted | Filtered | Rejected


@dataclass(frozen=True, slots=True)
class Derived:
    """Events that no read record carries (a SIECLE pupil absent from the new snapshot).

    They are screened and published like a record's events but are not counted in
    `read`; the ones published count in `events`.
    """

    events: list[Event]


@dataclass(frozen=True, slots=True)
class Commit:
    """A point where everything yielded so far must be durable: the runner flushes the
    sink, then awaits `action` (SIECLE saves that file's snapshot)."""

    action: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Records:
    """Records that the batch maps without changing its state — what mapping one record
    changes goes through `Batch.settlement`/`Batch.apply` — so that processes forked
    when this item comes may map them (connectors.core.parallel): the SIECLE pupils of
    one export. `read(skip)` iterates them (None for record number i with `skip(i)`
    true: not to be mapped here) and may be called once per process; `size` is their
    share of the input in bytes; `forkable` false keeps them in this process (a state
    in a scratch RocksDB, which a forked process must not touch)."""

    read: Callable[[Callable[[int], bool] | None], Iterator[RawRecord | None]]
    size: int
    forkable: bool = True


Item = RawRecord | Records | Derived | Commit


# --------------------------------------------------------------------------- context


@dataclass(frozen=True, slots=True)
class Context:
    """What validation and mapping need besides the record itself."""

    source: str
    secret: str  # pseudonym secret (hub.settings.pseudonym_secret)
    directory: Directory | None = None
    as_of: date | None = None  # --as-of, or None for the source's default
    min_age: int = 15  # rules.md §2: nothing published about a person under 15
    clock: Callable[[], datetime] = utc_now


# --------------------------------------------------------------------------- SIECLE state


class PupilState(NamedTuple):
    """What the next diff needs to know about one pupil (key: ELEVE_ID) ever seen at a UAJ.

    `exited`: an exit was already derived for this pupil (published, already on Kafka,
    or filtered because the pupil was under 15) — the pupil must not exit twice, and an
    older export still listing them must not make them "new" again. `exited_on` is the
    date of that exit (DATE_SORTIE, or the as-of of the export they were missing from).

    A pupil present in the snapshot keeps their identity, so that their exit by
    disappearance from the next export can be published with their person. An exited
    pupil needs no identity any more (nothing about them is derived from the state again:
    a return to school is enrolled from the export's own record), so it is kept compact —
    `PupilState.gone(day)`: the flag and the date only, no name (data minimisation too).

    A pupil listed in the newest export whose record was refused there, and who was never
    accepted at this UAJ, is `PupilState.unaccepted()`: nothing was published about them,
    but they were not absent from that export (an older export ingested later must not
    derive their exit by disappearance from it).
    """

    exited: bool
    ine: str | None
    nom: str
    prenom: str
    date_naissance: date | None  # None only for a compact exited pupil
    commune: str | None
    exited_on: date | None = None  # set for every exited pupil once loaded (see from_list)

    @classmethod
    def gone(cls, day: date) -> PupilState:
        """An exited pupil, as remembered: the exit's date only."""
        return cls(True, None, "", "", None, None, day)

    @classmethod
    def unaccepted(cls) -> PupilState:
        """A pupil listed, refused, never accepted (see the class doc)."""
        return cls(False, None, "", "", None, None)

    @property
    def accepted(self) -> bool:
        return self.exited or self.date_naissance is not None

    def to_list(self) -> list[Any]:
        """`[false, ine, nom, prenom, date_naissance, commune]` for a pupil present,
        `[true, exited_on]` for an exited one, `[false]` for one never accepted."""
        if self.exited:
            return [True, self.exited_on.isoformat() if self.exited_on else None]
        if self.date_naissance is None:
            return [False]
        return [False, self.ine, self.nom, self.prenom, self.date_naissance.isoformat(), self.commune]

    @classmethod
    def from_list(cls, v: Sequence[Any], as_of: date | None = None) -> PupilState:
        """Reads `to_list()`, and the older 6-item form of an exited pupil (identity, no
        exit date): its exit is then dated at `as_of`, the snapshot's as-of (an upper
        bound: the exit was derived at the latest by that export)."""
        if not v[0]:
            if len(v) == 1:
                return cls.unaccepted()
            return cls(False, v[1], v[2], v[3], date.fromisoformat(v[4]), v[5])
        day = v[1] if len(v) == 2 else None
        return cls.gone(date.fromisoformat(day) if day else as_of or date.min)


@dataclass(slots=True)
class Snapshot:
    """The connector's state for one establishment: the newest export seen (its as-of),
    every pupil it lists, and every pupil ever seen there whose exit was derived
    (compact, forgotten 25 months after the exit: `connectors.rectorat.state.RETENTION`).
    An older export ingested later never moves `as_of` back; it only adds what it
    teaches (see connectors/rectorat/connector.py)."""

    uaj: str
    as_of: date  # the newest export's as-of (DATE_EXPORT, or --as-of when given)
    pupils: dict[str, PupilState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A compact JSON-able form (≈ 80 bytes a pupil present, ≈ 20 an exited one)."""
        return {
            "uaj": self.uaj,
            "as_of": self.as_of.isoformat(),
            "pupils": {k: s.to_list() for k, s in self.pupils.items()},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Snapshot:
        as_of = date.fromisoformat(doc["as_of"])
        return cls(
            uaj=doc["uaj"],
            as_of=as_of,
            pupils={k: PupilState.from_list(v, as_of) for k, v in doc["pupils"].items()},
        )


# --------------------------------------------------------------------------- Kafka side


@runtime_checkable
class Sink(Protocol):
    """Where a connector writes (Kafka producer behind it)."""

    async def publish(self, topic: str, key: str, event: Event) -> None:
        """Queue one event on `topic` with `key` (the person key)."""

    async def dead_letter(self, topic: str, record: dict[str, Any]) -> None:
        """Queue one rejected record on `topic` ("<source topic>.dlq"). `record` is
        {source, file, position, reason, detail, raw, row, received_at} — see
        connectors.core.parallel.dead_letter_record."""

    async def watermark(self, source: str, as_of: date) -> None:
        """Publish the source's watermark; the implementation never moves it back."""

    async def flush(self) -> None:
        """Return once everything queued is acknowledged by the broker."""


@runtime_checkable
class SeenEvents(Protocol):
    """The event ids already on the source topics: a re-ingest publishes nothing twice."""

    async def load(self, topics: Sequence[str]) -> None: ...

    def contains(self, event_id: str) -> bool: ...

    def add(self, event_id: str) -> None: ...


@runtime_checkable
class SnapshotStore(Protocol):
    """SIECLE's previous snapshot per establishment; must survive the process."""

    async def previous(self, uaj: str) -> Snapshot | None: ...

    async def save(self, snapshot: Snapshot) -> None: ...


# --------------------------------------------------------------------------- connectors


class Batch(ABC):
    """One run of a connector over a file (or a SIECLE directory).

    The runner calls `prepare` (file-level checks: InputError, nothing published yet),
    then iterates `items`; for each RawRecord (alone, or from `Records`) it calls `map`,
    screens the outcome, then `apply(settlement(record, verdict))` with the record's final
    verdict, in record order. `map` and `settlement` may run in a worker process
    (`Records`); `apply` always runs in the publishing process.
    """

    bytes_total: int = 0
    bytes_done: int = 0

    @property
    def as_of(self) -> date | None:
        """The batch's declared as-of when the input declares one (SIECLE), else None."""
        return None

    @abstractmethod
    def prepare(self, progress: Progress | None = None) -> None: ...

    @abstractmethod
    def items(self) -> AsyncIterator[Item]: ...

    @abstractmethod
    def map(self, record: RawRecord) -> Mapped | Filtered | Rejected:
        """Validate and map one record (Filtered: known without screening, e.g. a SIECLE
        pupil unchanged since they were filtered)."""

    def records(self, skip: Callable[[int], bool] | None = None) -> Iterator[RawRecord | None] | None:
        """The records as a plain iterator when they are independent of each other —
        `items` yields nothing else, `map` is a pure function of the record and there is
        no state (`apply`) — so that worker processes may map them (connectors.core.parallel);
        None otherwise (the default). Record number i (from 0) with `skip(i)` true comes
        as None, unparsed. Such a batch also has `reopen()`: the same batch reading
        through its own file handles."""
        return None

    def replay_fields(self, record: RawRecord) -> dict[str, str]:
        """What validating `record` again needs besides its own fields, added to its dead
        letter's row (see REPLAY_AS_OF): SIECLE gives its file's UAJ and as-of. Asked for
        rejected records only, right after `map`."""
        return {}

    def settlement(self, record: RawRecord, verdict: Verdict) -> Any:
        """What the record's final verdict changes in the batch's state, as picklable
        data (None: nothing), taken right after `map` where the record was mapped."""
        return None

    def apply(self, settlement: Any) -> None:  # noqa: B027 - optional hook
        """Change the state as `settlement` says (stateful connectors: SIECLE)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files."""


class Connector(ABC):
    """One source: how to open its input and how to validate one record."""

    source: str  # "rectorat", "absenteisme", "mission-locale", "cfa", "cti"
    topic: str  # its source topic
    needs_directory: bool = False
    needs_snapshots: bool = False
    accepts_directory_path: bool = False

    @abstractmethod
    def open(self, path: Path, ctx: Context, snapshots: SnapshotStore | None = None) -> Batch: ...

    @abstractmethod
    def validate(self, row: Mapping[str, Any], ctx: Context, *, ref: str = "api") -> Mapped | Rejected:
        """One record given as a mapping (column → value, or the CTI JSON object)."""

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"


# --------------------------------------------------------------------------- result


@dataclass(slots=True)
class IngestResult:
    """The counts `hub ingest` prints (`--json`: exactly these keys)."""

    source: str
    read: int = 0
    published: int = 0
    unchanged: int = 0
    filtered: int = 0
    rejected: int = 0
    warnings: int = 0
    events: int = 0
    as_of: date | None = None
    files: list[str] = field(default_factory=list)  # informative, not in to_json()

    def accepted(self, new: int) -> int:
        """Count an accepted record that put `new` events on Kafka (0: all already
        there, `unchanged`); returns `new`, for the caller's flush counter."""
        if new:
            self.events += new
            self.published += 1
        else:
            self.unchanged += 1
        return new

    def check(self) -> None:
        total = self.published + self.unchanged + self.filtered + self.rejected
        if self.read != total:
            raise RuntimeError(
                f"{self.source}: comptage incohérent: lus {self.read} ≠ "
                f"publiés {self.published} + inchangés {self.unchanged} + filtrés {self.filtered} + rejetés {self.rejected}"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "read": self.read,
            "published": self.published,
            "unchanged": self.unchanged,
            "filtered": self.filtered,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "events": self.events,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }
