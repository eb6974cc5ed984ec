"""The SIECLE connector: each export is a snapshot, diffed with the previous one per UAJ.

Batch (a file, or every `*.xml` of a directory, one batch):
1. `prepare`: first pass over every file (well-formed? UAJ? DATE_EXPORT?). Any problem
   refuses the whole batch (InputError) before anything is published or saved. The
   batch's as-of is `--as-of`, else the earliest DATE_EXPORT of its files.
2. files are then processed in (as-of, file name) order; for each file, the base is
   the previous snapshot of its UAJ (from the SnapshotStore, or the previous file of
   the same UAJ in this batch), and a second pass streams its pupils:
   - a pupil not in the base → ELEVE_INSCRIT at DATE_ENTREE, plus ELEVE_SORTI at
     DATE_SORTIE when it is set;
   - a pupil in the base whose DATE_SORTIE is set and whose exit was not yet derived →
     ELEVE_SORTI at DATE_SORTIE (CODE_MOTIF_SORTIE, empty/unknown → "99");
   - a pupil in the base with an exit derived and now listed without DATE_SORTIE (back in
     the establishment) → ELEVE_INSCRIT at its DATE_ENTREE, and the exit flag is reset
     (an extension of inputs.md: otherwise a return to school would never be seen);
   - anything else → no event (`unchanged`);
   - after the last pupil, every pupil of the base absent from this export with no exit
     derived → ELEVE_SORTI at this file's as-of, reason "99" (a `Derived` item: counted
     in `events`, not in `read`);
   - then the sink is flushed and the new snapshot saved (`Commit`).
   A rejected pupil keeps its previous state (it is present: it must not look like an
   exit, nor be "new" next time); a rejected pupil unknown before stays unknown, so it
   is enrolled once it is fixed. A duplicated ELEVE_ID in one file: the later
   occurrence is rejected BAD_VALUE.
3. An export older than the saved snapshot of its UAJ (as-of before the base's) is
   *stale*: it is diffed as if it had come before the base — its pupils unknown to the
   base give their first-seen events, plus, when they have no DATE_SORTIE, an exit at the
   base's as-of (they were gone by then); pupils of the base with a DATE_SORTIE here and
   no exit derived give their exit. No disappearance pass, and the saved snapshot stays
   the newer one (only exit flags are updated). Event ids being deterministic, ingesting
   two exports in either order gives the same events.

Event ids: (UAJ, ELEVE_ID, "INSCRIT", DATE_ENTREE) and (UAJ, ELEVE_ID, "SORTI", date).
source_ref: "<file>:ELEVE[<n>]", and "<file>:ELEVE_ID=<id>:absent" for a disappearance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from hub.errors import InputError
from hub.validation import BAD_VALUE, check_uai

from connectors.core.fields import Fields
from connectors.core.types import (
    Batch,
    Commit,
    Connector,
    Context,
    Derived,
    Event,
    Item,
    Mapped,
    Progress,
    PupilState,
    RawRecord,
    Rejected,
    Snapshot,
    SnapshotStore,
    Verdict,
)
from connectors.rectorat import siecle
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
    stale: bool
    new: dict[str, PupilState] = field(default_factory=dict)
    seen_ids: set[str] = field(default_factory=set)
    pending: tuple[str, PupilState | None] | None = None
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
        self._handle: BinaryIO | None = None

    @property
    def as_of(self) -> date | None:
        return self._as_of

    @property
    def bytes_done(self) -> int:  # type: ignore[override]
        try:
            pos = self._handle.tell() if self._handle is not None and not self._handle.closed else 0
        except (OSError, ValueError):
            pos = 0
        return self._done_before + pos

    # -- pass 1 ------------------------------------------------------------------

    def _paths(self) -> list[Path]:
        if not self.path.is_dir():
            return [self.path]
        paths = sorted(p for p in self.path.iterdir() if p.suffix.lower() == ".xml" and p.is_file())
        if not paths:
            raise InputError(f"{self.path}: aucun fichier .xml dans le dossier")
        return paths

    def prepare(self, progress: Progress | None = None) -> None:
        paths = self._paths()
        sizes = [p.stat().st_size for p in paths]
        self.bytes_total = 2 * sum(sizes)
        done = 0
        for path, size in zip(paths, sizes, strict=True):
            tick = (lambda pos, base=done: progress(base + pos, self.bytes_total)) if progress else None
            info = siecle.scan(path, tick)
            info.as_of = self.ctx.as_of or info.date_export
            if info.as_of is None:
                raise InputError(f"{info.name}: PARAMETRES/DATE_EXPORT absent (ou donner --as-of)")
            self.infos.append(info)
            done += size
            if progress is not None:
                progress(done, self.bytes_total)
        self._done_before = done
        self.infos.sort(key=lambda i: (i.as_of, i.name))
        self.files = [i.name for i in self.infos]
        self._as_of = self.ctx.as_of or min(i.date_export for i in self.infos if i.date_export)

    # -- pass 2 ------------------------------------------------------------------

    async def items(self) -> AsyncIterator[Item]:
        pending_uajs = [i.uaj for i in self.infos]
        latest: dict[str, Snapshot] = {}  # snapshots of this batch a later file builds on
        for info in self.infos:
            pending_uajs.remove(info.uaj)
            assert info.as_of is not None
            base = latest.pop(info.uaj, None) or await self.store.previous(info.uaj)
            stale = base is not None and info.as_of < base.as_of
            run = self._run = _FileRun(info=info, as_of=info.as_of, base=base, stale=stale)
            with siecle.open_binary(info.path) as handle:
                self._handle = handle
                for n, fields, raw in siecle.iter_eleves(handle, info.name):
                    position = f"ELEVE[{n}]"
                    yield RawRecord(info.name, position, f"{info.name}:{position}", raw, row=fields)
                self._handle = None
            self._done_before += info.size

            if stale:
                snapshot = base if run.dirty else None
            else:
                gone = self._disappearances(run)
                if gone:
                    yield Derived(gone)
                snapshot = Snapshot(info.uaj, info.as_of, run.new)
            if snapshot is not None:
                if info.uaj in pending_uajs:
                    latest[info.uaj] = snapshot
                yield Commit(lambda s=snapshot: self.store.save(s))
        self._run = None

    def _disappearances(self, run: _FileRun) -> list[Event]:
        if run.base is None:
            return []
        uaj, name = run.info.uaj, run.info.name
        return [
            sorti(self.ctx, uaj, eleve_id, state, run.as_of, MOTIF_INCONNU, f"{name}:ELEVE_ID={eleve_id}:absent")
            for eleve_id, state in run.base.pupils.items()
            if eleve_id not in run.seen_ids and not state.exited
        ]

    def map(self, record: RawRecord) -> Mapped | Rejected:
        run = self._run
        assert run is not None and record.row is not None
        uaj = run.info.uaj
        eleve_id = str(record.row.get("ELEVE_ID", "")).strip()
        if eleve_id and eleve_id in run.seen_ids:
            run.pending = None
            return Rejected.one(BAD_VALUE, f"ELEVE_ID: {eleve_id!r} en double dans le fichier", "ELEVE_ID")
        if eleve_id:
            run.seen_ids.add(eleve_id)
        pupil = validate_eleve(record.row)
        if isinstance(pupil, Rejected):
            run.pending = (eleve_id, None) if eleve_id else None
            return pupil
        prev = run.base.pupils.get(pupil.eleve_id) if run.base is not None else None
        events, state = self._derive(run, pupil, prev, record.ref)
        run.pending = (pupil.eleve_id, state)
        # A stale export's disappearance exits are dated at the (newer) base's as-of.
        limit = run.base.as_of if run.stale and run.base is not None else run.as_of
        return Mapped(events, warnings=pupil.warnings, as_of=limit)

    def _derive(self, run: _FileRun, p: Pupil, prev: PupilState | None, ref: str) -> tuple[list[Event], PupilState]:
        ctx, uaj = self.ctx, run.info.uaj
        if prev is None:
            events = first_seen(ctx, uaj, p, ref)
            exited = p.date_sortie is not None
            if run.stale and not exited and run.base is not None:
                # Unknown to the newer snapshot: gone by its date.
                events.append(sorti(ctx, uaj, p.eleve_id, p.state(True), run.base.as_of, MOTIF_INCONNU, ref))
                exited = True
            return events, p.state(exited)
        if p.date_sortie is not None:
            if prev.exited:
                return [], p.state(True)
            return [sorti(ctx, uaj, p.eleve_id, p.state(True), p.date_sortie, p.motif, ref)], p.state(True)
        if prev.exited and not run.stale:
            return [inscrit(ctx, uaj, p, ref)], p.state(False)
        return [], p.state(prev.exited if run.stale else False)

    def settle(self, record: RawRecord, verdict: Verdict) -> None:
        run = self._run
        if run is None or run.pending is None:
            return
        eleve_id, state = run.pending
        run.pending = None
        prev = run.base.pupils.get(eleve_id) if run.base is not None else None
        if run.stale:
            if state is not None and state.exited and prev is not None and not prev.exited and not isinstance(verdict, Rejected):
                assert run.base is not None
                run.base.pupils[eleve_id] = prev._replace(exited=True)
                run.dirty = True
            return
        if state is None or isinstance(verdict, Rejected):
            if prev is not None:
                run.new[eleve_id] = prev
        else:
            run.new[eleve_id] = state

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


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
        errors = f.errors + (list(pupil.rejections) if isinstance(pupil, Rejected) else [])
        if errors:
            return Rejected(tuple(errors))
        assert uaj and isinstance(pupil, Pupil)
        return Mapped(first_seen(ctx, uaj, pupil, ref), warnings=pupil.warnings)


CONNECTOR = RectoratConnector()
