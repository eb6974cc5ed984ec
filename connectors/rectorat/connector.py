"""The SIECLE connector: each export is a snapshot, diffed with the previous one per UAJ.

The state of a UAJ (`Snapshot`) is the newest export seen (its as-of), every pupil it
lists, and every pupil ever seen there whose exit was already derived (compact:
`PupilState.gone(date)`). Exited pupils are remembered, not forgotten, so that no export
— a re-ingest, or an older export ingested after newer ones — can make a pupil who left
"new" again, nor make them leave twice ("re-ingesting a file is harmless", inputs.md).

Batch (a file, or every `*.xml` of a directory, one batch):
1. `prepare`: first pass over every file (well-formed? UAJ? DATE_EXPORT?). Any problem
   refuses the whole batch (InputError) before anything is published or saved. The
   batch's as-of is `--as-of`, else the earliest DATE_EXPORT of its files: its
   watermark (the batch is complete only up to its oldest export). Each file's as-of
   is `--as-of`, else its own DATE_EXPORT: its pupils' dates are checked against it
   (`FUTURE_DATE` is "after the file's as-of", inputs.md) — checked against the batch's,
   every pupil who entered or left since the oldest export of a nightly batch would be
   dead-lettered, each night again while one establishment's export lags.
2. files are then processed in (as-of, DATE_EXPORT, file name) order (with `--as-of`
   every file has that as-of: two exports of one UAJ still come in the order they were
   made); for each file, the base is
   the state of its UAJ (from the SnapshotStore, or the previous file of the same UAJ in
   this batch). An export whose as-of is not before the base's (or with no base) is
   *current*; a second pass streams its pupils:
   - a pupil unknown to the base → ELEVE_INSCRIT at DATE_ENTREE, plus ELEVE_SORTI at
     DATE_SORTIE when it is set;
   - a pupil present in the base whose DATE_SORTIE is set → ELEVE_SORTI at DATE_SORTIE
     (CODE_MOTIF_SORTIE, empty/unknown → "99"), and the pupil is exited;
   - a pupil exited in the base, listed again without DATE_SORTIE in an export strictly
     newer than the base → back in the establishment: ELEVE_INSCRIT at its DATE_ENTREE
     when that follows the exit, else at this export's as-of (the old DATE_ENTREE is the
     first enrolment's, already published: an exit cancelled, a pupil missing from one
     export), and the pupil is present again (an extension of inputs.md: otherwise a
     return to school would never be seen, and a later disappearance would be a second
     exit in a row). Never for an export of the base's own as-of (a re-ingest) nor for
     an older one;
   - a pupil exited in the base whose DATE_SORTIE here is before the exit the base
     knows (a DATE_SORTIE corrected to an earlier day) → ELEVE_SORTI at DATE_SORTIE with
     its reason: the rule core counts the earlier of two exits from one establishment;
   - anything else → no event (`unchanged`): an exited pupil stays exited. A pupil
     whose every fact (enrolment, exit) is dated before they turned 15 was filtered when
     first seen, never published: `filtered` again, not `unchanged`;
   - after the last pupil, every pupil present in the base and absent from this export
     → ELEVE_SORTI at this file's as-of, reason "99" (a `Derived` item: counted in
     `events`, not in `read`), and the pupil is exited; exited pupils of the base absent
     from the export are carried over, except those whose exit is older than
     `state.RETENTION` (25 months, the events' retention) before this as-of: forgotten;
   - then the sink is flushed and the new state saved (`Commit`).
   A rejected pupil keeps its previous state (it is present: it must not look like an
   exit, nor be "new" next time); a rejected pupil unknown before is kept as listed but
   never accepted (`PupilState.unaccepted`): enrolled once it is fixed, never given an
   exit by disappearance — nor taken by an older export ingested later for a pupil
   absent from this one. A duplicated ELEVE_ID in one file: the later occurrence is
   rejected BAD_VALUE.
3. An export older than the base (as-of before the base's) is *stale*. The saved state
   keeps the newer as-of and its pupils (it is never moved back); the stale export only
   adds the facts the state does not know yet:
   - a pupil unknown to the state (never seen at this UAJ) → their first-seen events,
     plus, without DATE_SORTIE, an exit by disappearance at the base's as-of (absent from
     the newer export: they were gone by then); the pupil is added to the state as
     exited, so a re-ingest finds them there;
   - a pupil present in the base with a DATE_SORTIE here → that exit (ELEVE_SORTI at
     DATE_SORTIE), but the pupil stays present: the newer export lists them without an
     exit, which is what a return after that exit gives in date order;
   - a pupil exited in the state at a later date than its DATE_SORTIE here (the newer
     export lacked them: an exit by disappearance, reason 99) → ELEVE_SORTI at
     DATE_SORTIE with the stated reason: the rule core takes the earlier exit from one
     establishment, so the result is that of the exports in date order;
   - a pupil exited in the state before this export's as-of and listed here without
     DATE_SORTIE → back in between (ELEVE_INSCRIT at DATE_ENTREE when it follows the
     exit, else at this as-of) and gone again by the newer export, which lacks them
     (ELEVE_SORTI at its as-of, reason 99): the events of the date order; the state
     learns that exit;
   - a pupil exited in the state, or present without DATE_SORTIE → nothing;
   - no disappearance pass: the base's pupils absent from an older export are not news.
   What a stale export's pupils state is checked against its own as-of (FUTURE_DATE
   "after the file's as-of"); only its derived exits carry the base's.
   A stale export older than the base's as-of minus `state.RETENTION` derives no exit by
   disappearance (the state may have forgotten that one of its pupils already left): only
   the facts it states itself (ELEVE_INSCRIT, DATE_SORTIE), whose ids are deterministic.

Order. Re-ingesting any export already ingested publishes nothing, whatever came in
between. The same exports ingested in any order give the same events, with these
limitations (the state keeps the newest export, not every one):
- an exit by disappearance is dated at the as-of of the newest export of the UAJ
  ingested when the exit is derived. In date order that is the first export lacking the
  pupil; when the exports come out of order it may be a later one (A lists a pupil, B
  and C do not: the exit is dated B if A and B both come before C, C otherwise). An
  exit once published is never re-dated;
- a pupil missing from one export but listed again in a newer one (a gap in presence)
  may give no exit when the exports come out of order;
- (the reason of an exit is not lost: a newer export lacking a pupil, ingested before
  the older one stating their DATE_SORTIE, gives the exit by disappearance (99) first,
  then the stated one, earlier, with its reason, which the rule core keeps);
- a pupil's DATE_ENTREE is not kept: a re-enrolment is seen only as an exit followed by
  a return in a newer export.
A possible refinement of the first: keep the as-ofs of the exports seen, and date a
never-seen pupil of a stale export at the first of them after its as-of (B, in the
example, whenever B is ingested before A).

Event ids: (UAJ, ELEVE_ID, "INSCRIT", DATE_ENTREE) and (UAJ, ELEVE_ID, "SORTI", date).
source_ref: "<file>:ELEVE[<n>]", and "<file>:ELEVE_ID=<id>:absent" for a disappearance.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from hub.errors import InputError
from hub.validation import BAD_VALUE, check_uai

from connectors.core.fields import Fields, age_at
from connectors.core.runner import future_date, screen_rejected
from connectors.core.types import (
    REPLAY_AS_OF,
    Batch,
    Commit,
    Connector,
    Context,
    Derived,
    Event,
    Filtered,
    Item,
    Mapped,
    Progress,
    PupilState,
    RawRecord,
    Records,
    Rejected,
    Rejection,
    Snapshot,
    SnapshotStore,
    Verdict,
)
from connectors.rectorat import siecle
from connectors.rectorat.state import MEMORY_LIMIT, RETENTION, Scratch
from connectors.rectorat.pupil import (
    MOTIF_INCONNU,
    SOURCE,
    TOPIC,
    Pupil,
    first_seen,
    inscrit,
    sorti,
    validate_eleve,
)


@dataclass(slots=True)
class _FileRun:
    info: siecle.ExportInfo
    as_of: date
    base: Snapshot | None
    stale: bool  # older than the base: adds facts to the base, which stays the state
    newer: bool  # strictly newer than the base: a return to school can be seen
    infer: bool  # a stale export within RETENTION of the base: unknown pupils left since
    new: MutableMapping[str, PupilState] = field(default_factory=dict)
    pending: tuple[str, PupilState | None] | None = None  # what `map` found, for `settlement`
    dirty: bool = False


class RectoratBatch(Batch):
    def __init__(self, path: Path, ctx: Context, store: SnapshotStore) -> None:
        self.path = path
        self.ctx = ctx
        self.store = store
        self.infos: list[siecle.ExportInfo] = []
        self.files: list[str] = []
        self._as_of: date | None = None
        self._run: _FileRun | None = None
        self._done_before = 0
        self._spilled = 0  # bytes of the current file behind the pupil being read
        self._tmp: Path | None = None
        self._scratch: Scratch | None = None

    @property
    def as_of(self) -> date | None:
        return self._as_of

    @property
    def bytes_done(self) -> int:  # type: ignore[override]
        return self._done_before + self._spilled

    # -- pass 1 ------------------------------------------------------------------

    def _paths(self) -> list[Path]:
        if not self.path.is_dir():
            return [self.path]
        paths = sorted(p for p in self.path.iterdir() if p.suffix.lower() == ".xml")
        if not paths:
            raise InputError(f"{self.path}: aucun fichier .xml dans le dossier")
        # A `.xml` entry that is no readable file (a dangling link, a folder) is an
        # unreadable file of the batch, not one to leave out in silence.
        for p in paths:
            if not p.is_file():
                raise InputError(f"{p}: pas un fichier lisible")
        return paths

    def prepare(self, progress: Progress | None = None) -> None:
        paths = self._paths()
        sizes = [p.stat().st_size for p in paths]
        self.bytes_total = 2 * sum(sizes)
        done = 0
        self._tmp = Path(tempfile.mkdtemp(prefix="hub-siecle-"))
        for i, (path, size) in enumerate(zip(paths, sizes, strict=True)):
            tick = (lambda pos, base=done: progress(base + pos, self.bytes_total)) if progress else None
            spill = _ListingSpill(self._tmp / f"{i}.spill", self._scratch_of, expected=size // 300)
            info = siecle.scan(path, tick, spill)
            info.as_of = self.ctx.as_of or info.date_export
            if info.as_of is None:
                raise InputError(f"{info.name}: PARAMETRES/DATE_EXPORT absent (ou donner --as-of)")
            self.infos.append(info)
            done += size
            if progress is not None:
                progress(done, self.bytes_total)
        self._done_before = done
        # Exports of one UAJ are diffed in the order they were made (DATE_EXPORT), also
        # when --as-of gives every file the same as-of.
        self.infos.sort(key=lambda i: (i.as_of, i.date_export or i.as_of, i.name))
        self.files = [i.name for i in self.infos]
        self._as_of = self.ctx.as_of or min(i.date_export for i in self.infos if i.date_export)

    def _scratch_of(self) -> Scratch:
        if self._scratch is None:
            self._scratch = Scratch()
        return self._scratch

    # -- pass 2 ------------------------------------------------------------------

    async def items(self) -> AsyncIterator[Item]:
        pending_uajs = [i.uaj for i in self.infos]
        latest: dict[str, Snapshot] = {}  # snapshots of this batch a later file builds on
        for info in self.infos:
            pending_uajs.remove(info.uaj)
            assert info.as_of is not None
            base = latest.pop(info.uaj, None) or await self.store.previous(info.uaj)
            stale = base is not None and info.as_of < base.as_of
            run = self._run = _FileRun(
                info=info, as_of=info.as_of, base=base, stale=stale,
                newer=base is not None and info.as_of > base.as_of,
                infer=base is not None and info.as_of >= base.as_of - RETENTION)
            # The new state holds this export's pupils and the base's exited ones.
            if info.eleves > MEMORY_LIMIT or (base is not None and not stale and len(base.pupils) > MEMORY_LIMIT):
                base_size = len(base.pupils) if base is not None else 0
                run.new = self._scratch_of().pupils(info.eleves + base_size)
            assert info.spill is not None
            # Mapping a pupil reads the base; a base in the scratch RocksDB stays in this process.
            yield Records(partial(self._pupils, info), info.size,
                          forkable=base is None or isinstance(base.pupils, dict))
            info.spill.discard()
            self._spilled = 0
            self._done_before += info.size

            if stale:
                snapshot = base if run.dirty else None
            else:
                for gone in self._carry_over(run):
                    yield Derived(gone)
                snapshot = Snapshot(info.uaj, info.as_of, run.new)
            if snapshot is not None:
                if info.uaj in pending_uajs:
                    latest[info.uaj] = snapshot
                yield Commit(lambda s=snapshot: self.store.save(s))
        self._run = None

    def _pupils(self, info: siecle.ExportInfo, skip: Callable[[int], bool] | None) -> Iterator[RawRecord | None]:
        """The pupils of the current file, from its spill (`Records.read`)."""
        assert info.spill is not None
        name, path, encoding = info.name, info.path, info.encoding
        per_pupil = info.size / max(info.eleves, 1)
        for n, fields, start, end in info.spill:
            self._spilled = int(n * per_pupil)
            if skip is not None and skip(n - 1):
                yield None
                continue
            position = f"ELEVE[{n}]"
            yield RawRecord(name, position, f"{name}:{position}",
                            partial(siecle.read_raw, path, start, end, encoding), row=fields)

    def _carry_over(self, run: _FileRun, chunk: int = 1000) -> Iterator[list[Event]]:
        """The base's pupils absent from a current export, into the new state: a pupil
        present leaves by disappearance (its exit yielded by lists of at most `chunk`
        events) and is kept exited; an exited pupil is kept, unless its exit is older
        than RETENTION before this export (forgotten)."""
        if run.base is None:
            return
        uaj, name, as_of = run.info.uaj, run.info.name, run.as_of
        horizon = as_of - RETENTION
        new = run.new  # every pupil of the base listed in the file is in it by now (`apply`)
        put = getattr(new, "put_new", new.__setitem__)  # absent from the file → not in `new` yet
        gone = PupilState.gone(as_of)
        events: list[Event] = []
        for eleve_id, state in run.base.pupils.items():
            if eleve_id in new:
                continue
            if state.exited:
                if state.exited_on is None or state.exited_on >= horizon:
                    put(eleve_id, state)
                continue
            if not state.accepted:  # refused, never published: no exit, forgotten
                continue
            events.append(sorti(self.ctx, uaj, eleve_id, state, as_of, MOTIF_INCONNU,
                                f"{name}:ELEVE_ID={eleve_id}:absent"))
            put(eleve_id, gone)
            if len(events) >= chunk:
                yield events
                events = []
        if events:
            yield events

    def map(self, record: RawRecord) -> Mapped | Filtered | Rejected:
        run = self._run
        assert run is not None and record.row is not None
        eleve_id = str(record.row.get("eleve_id", "")).strip()
        pupil = validate_eleve(record.row)
        if DUPLICATE in record.row:  # marked by the first pass (_ListingSpill)
            run.pending = None
            born = pupil.born if isinstance(pupil, Rejected) else pupil.date_naissance
            return screen_rejected(duplicate(eleve_id, born), self.ctx, run.as_of)
        if isinstance(pupil, Rejected):
            run.pending = (eleve_id, None) if eleve_id else None
            return screen_rejected(pupil, self.ctx, run.as_of)
        prev = run.base.pupils.get(pupil.eleve_id) if run.base is not None else None
        events, state, derived = self._derive(run, pupil, prev, record.ref)
        run.pending = (pupil.eleve_id, state)
        if not events and self._never_published(pupil, prev):
            return Filtered(pupil.warnings)
        if derived is None:
            return Mapped(events, warnings=pupil.warnings, as_of=run.as_of)
        # A stale export: what the pupil's record states is bounded by the file's own
        # as-of (inputs.md), the exit derived from the newer export by that export's.
        late = future_date(events, run.as_of, self.ctx.min_age)
        if late is not None:
            return late
        return Mapped([*events, derived], warnings=pupil.warnings, as_of=derived["event_date"])

    def _never_published(self, p: Pupil, prev: PupilState | None) -> bool:
        """An unchanged pupil (no new event) whose every known fact — enrolment at
        DATE_ENTREE, exit at DATE_SORTIE or the exit already derived — is dated before
        they turned `min_age`: filtered when first seen, never published, so `filtered`
        again rather than `unchanged` ("already published before", inputs.md)."""
        last = p.date_entree  # age only grows: the latest fact decides
        if p.date_sortie is not None and p.date_sortie > last:
            last = p.date_sortie
        if prev is not None and prev.exited and prev.exited_on is not None and prev.exited_on > last:
            last = prev.exited_on
        return age_at(p.date_naissance, last) < self.ctx.min_age

    def replay_fields(self, record: RawRecord) -> dict[str, str]:
        """A pupil's UAJ is its file's (PARAMETRES), and so is its as-of: the dead letter
        carries both, so that `hub dlq replay` validates the pupil as this run did (a
        repeated ELEVE_ID: its row carries DUPLICATE)."""
        run = self._run
        if run is None:
            return {}
        return {"uaj": run.info.uaj, REPLAY_AS_OF: run.as_of.isoformat()}

    def _derive(self, run: _FileRun, p: Pupil, prev: PupilState | None,
                ref: str) -> tuple[list[Event], PupilState | None, Event | None]:
        """The events the record of one listed pupil states, their state after this
        export (None: the state is not to learn about them), and the exit a stale export
        derives for a pupil the newer export lacks (None when there is none)."""
        ctx, uaj = self.ctx, run.info.uaj
        if prev is not None and not prev.accepted:
            # Listed in the base's export but refused there: news, as a pupil never seen,
            # except that they were not absent from that export (no exit derived).
            events = first_seen(ctx, uaj, p, ref)
            return events, PupilState.gone(p.date_sortie) if p.date_sortie is not None else p.present(), None
        if prev is None:  # never seen at this UAJ (or forgotten: see RETENTION)
            events = first_seen(ctx, uaj, p, ref)
            if p.date_sortie is not None:
                return events, PupilState.gone(p.date_sortie), None
            if not run.stale:
                return events, p.present(), None
            assert run.base is not None
            if not run.infer:
                return events, None, None
            # Unknown to the newer export: gone by its date.
            gone = sorti(ctx, uaj, p.eleve_id, p.present(), run.base.as_of, MOTIF_INCONNU, ref)
            return events, PupilState.gone(run.base.as_of), gone
        if prev.exited:
            if p.date_sortie is None and run.newer:  # back in the establishment
                return [inscrit(ctx, uaj, p, ref, _return_day(p, prev, run.as_of))], p.present(), None
            if p.date_sortie is None and run.infer and prev.exited_on is not None and prev.exited_on < run.as_of:
                # An older export lists as present a pupil whose known exit came before
                # its date: they came back in between, and were gone again by the newer
                # export, which lacks them — what the exports in date order give.
                assert run.base is not None
                back = inscrit(ctx, uaj, p, ref, _return_day(p, prev, run.as_of))
                gone = sorti(ctx, uaj, p.eleve_id, p.present(), run.base.as_of, MOTIF_INCONNU, ref)
                return [back], PupilState.gone(run.base.as_of), gone
            if p.date_sortie is not None and prev.exited_on is not None and p.date_sortie < prev.exited_on:
                # An exit stated before the one known (an exit by disappearance from a
                # newer export ingested first, a DATE_SORTIE corrected): published with its
                # reason; the rule core takes the earlier one, a second exit from an
                # establishment already left being none (hub/rules/engine.py).
                events = [sorti(ctx, uaj, p.eleve_id, p.present(), p.date_sortie, p.motif, ref)]
                return events, prev if run.stale else PupilState.gone(p.date_sortie), None
            return [], prev, None
        if p.date_sortie is not None:
            events = [sorti(ctx, uaj, p.eleve_id, p.present(), p.date_sortie, p.motif, ref)]
            # Stale: the newer export lists them without an exit (back after it).
            return events, prev if run.stale else PupilState.gone(p.date_sortie), None
        return [], prev if run.stale else p.present(), None

    def settlement(self, record: RawRecord, verdict: Verdict) -> tuple[str, PupilState | None, bool] | None:
        """(ELEVE_ID, its state as `map` derived it, refused?) — None for a pupil that
        leaves no trace (a repeated ELEVE_ID, or none at all)."""
        run = self._run
        if run is None or run.pending is None:
            return None
        eleve_id, state = run.pending
        run.pending = None
        return eleve_id, state, isinstance(verdict, Rejected)

    def apply(self, settlement: tuple[str, PupilState | None, bool] | None) -> None:
        run = self._run
        if run is None or settlement is None:
            return
        eleve_id, state, rejected = settlement
        if run.stale:
            # An older export teaches the state a pupil it does not know, or a return
            # and departure it missed (`_derive` then gives a new state, else `prev`).
            assert run.base is not None
            if state is not None and not rejected and run.base.pupils.get(eleve_id) != state:
                run.base.pupils[eleve_id] = state
                run.dirty = True
            return
        prev = run.base.pupils.get(eleve_id) if run.base is not None else None
        if state is None or rejected:
            # Refused: as they were; listed all the same (never absent from this export).
            run.new[eleve_id] = prev if prev is not None else PupilState.unaccepted()
        else:
            run.new[eleve_id] = state

    def close(self) -> None:
        for info in self.infos:
            if info.spill is not None:
                info.spill.discard()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None


def _return_day(p: Pupil, prev: PupilState, as_of: date) -> date:
    """The date of a pupil's return after the exit `prev` knows, seen in an export of
    `as_of`: DATE_ENTREE when it follows the exit; else that DATE_ENTREE is the first
    enrolment's, already published (an exit cancelled, a pupil missing from one export),
    and the return is dated by the export that lists the pupil again."""
    if prev.exited_on is not None and p.date_entree > prev.exited_on:
        return p.date_entree
    return as_of


# In the dead letter of a pupil whose ELEVE_ID repeats an earlier one of its file: the
# refusal holds on the file, not on the record, so `hub dlq replay` refuses it again.
DUPLICATE = "@duplicate"


class _ListingSpill(siecle.Spill):
    """The first pass's spill, marking a pupil whose ELEVE_ID an earlier pupil of the file
    has (DUPLICATE in its fields): so the second pass maps each pupil alone, in any
    process. The ids met are kept in a set, moved to the batch's scratch past
    MEMORY_LIMIT; dropped once the file is read."""

    def __init__(self, path: Path, scratch: Callable[[], Scratch], expected: int) -> None:
        super().__init__(path)
        self._scratch = scratch
        self._expected = expected  # pupils, roughly (the Bloom filter's size)
        self._ids: Any = set()

    def add(self, record: tuple) -> None:
        fields = record[1]
        eleve_id = str(fields.get("eleve_id", "")).strip()
        if eleve_id:
            ids = self._ids
            if eleve_id in ids:
                fields[DUPLICATE] = "1"
            else:
                if ids.__class__ is set and len(ids) >= MEMORY_LIMIT:
                    disk = self._scratch().ids(self._expected)
                    for known in ids:
                        disk.add(known)
                    ids = self._ids = disk
                ids.add(eleve_id)
        super().add(record)

    def finish(self) -> None:
        self._ids = set()
        super().finish()


def duplicate(eleve_id: str, born: date | None) -> Rejected:
    return Rejected((Rejection(BAD_VALUE, f"ELEVE_ID: {eleve_id!r} en double dans le fichier", "ELEVE_ID"),),
                    born=born)


class RectoratConnector(Connector):
    source = SOURCE
    topic = TOPIC
    needs_snapshots = True
    accepts_directory_path = True

    def open(self, path: Path, ctx: Context, snapshots: SnapshotStore | None = None) -> Batch:
        if snapshots is None:
            raise ValueError("rectorat: a SnapshotStore is required")
        return RectoratBatch(path, ctx, snapshots)

    def validate(self, row: Mapping[str, Any], ctx: Context, *, ref: str = "api") -> Mapped | Rejected:
        """One pupil posted alone (no snapshot): `UAJ` plus the ELEVE fields, as a first
        sighting — ELEVE_INSCRIT, and ELEVE_SORTI when DATE_SORTIE is set. Same event ids
        as the snapshot path, so a later export does not publish them again."""
        f = Fields(row)
        uaj = f.check("uaj", check_uai)
        pupil = validate_eleve(row)
        born = pupil.born if isinstance(pupil, Rejected) else pupil.date_naissance
        if f.text(DUPLICATE):  # a dead letter of a repeated ELEVE_ID: only a new export fixes it
            return duplicate(f.text("eleve_id"), born)
        errors = f.errors + (list(pupil.rejections) if isinstance(pupil, Rejected) else [])
        if errors:
            return Rejected(tuple(errors), born=born)
        assert uaj and isinstance(pupil, Pupil)
        return Mapped(first_seen(ctx, uaj, pupil, ref), warnings=pupil.warnings)


CONNECTOR = RectoratConnector()
