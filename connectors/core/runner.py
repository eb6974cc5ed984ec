"""The ingest loop shared by every source, and the one-record check used over HTTP.

    read → validate/map (per source) → screen (under-15, FUTURE_DATE) → publish → account

Accounting: every record read ends in exactly one of
- `rejected`  invalid (dead letter with its reason), or an event date after the as-of;
- `filtered`  every event of the record is about a person under 15 at its event date
  (a refused record too, when its valid dates show it: `screen_rejected`);
- `published` at least one of its events was new (not already among SeenEvents);
- `unchanged` all its events were already published (or it gives none: a SIECLE pupil
  whose snapshot did not change).
`read = published + unchanged + filtered + rejected` is checked at the end. `events`
counts the new events published, including SIECLE exits by disappearance, which no read
record carries. `warnings` counts records kept whose invalid INE was dropped.

Nothing is published before the batch's `prepare()` succeeded (file-level checks: an
unreadable file, a bad CSV header, a malformed or truncated XML raise InputError).
CSV and JSON Lines files of 1 MiB or more, and the pupils of SIECLE exports of 1 MiB or
more, are validated, screened and encoded by worker processes (connectors.core.parallel),
this process keeping the seen-ids check, the publication, the counts and the batch's
state (`Batch.apply`), in the same order: same results.
After the last record the sink is flushed, then the watermark published with the as-of:
`--as-of` when given, else the source's default (SIECLE: earliest DATE_EXPORT; other
sources: the latest event date in the file — of the records accepted or filtered, and of
those rejected for another reason than their date, whose date is valid:
`Rejected.event_date`). A file with no valid date and no `--as-of` has no as-of: no
watermark.

A dead letter carries the as-of its record was checked against, and what else replaying
it needs (`Batch.replay_fields`): see connectors.core.types.REPLAY_AS_OF.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hub.errors import InputError
from hub.identity import person_key
from hub.settings import Settings, get_settings
from hub.types.directory import Directory

from connectors.core import parallel
from connectors.core.fields import age_at
from connectors.core.types import (
    FUTURE_DATE,
    Accepted,
    Batch,
    Commit,
    Connector,
    Context,
    Derived,
    Event,
    Filtered,
    IngestResult,
    Item,
    Mapped,
    Progress,
    RawRecord,
    Records,
    Rejected,
    SeenEvents,
    Sink,
    SnapshotStore,
    Verdict,
    utc_now,
)

PROGRESS_EVERY = 500
# New events between two sink flushes at most: what the seen-events store holds as
# "published, not yet acknowledged" stays bounded whatever the file size.
FLUSH_EVERY = 50_000


def _libc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


_MALLOC_TRIM = _libc_trim() if sys.platform.startswith("linux") else None


def trim_heap() -> None:
    """Give freed heap pages back to the system (glibc's malloc_trim). glibc keeps what
    RocksDB (flushed memtables of the SIECLE scratch and the seen-events store) and the
    decoded batches free, so without it a big ingest's RSS grows with the file: ≈ 36 MB
    more of 165 MB on a 0.6 GB SIECLE export. Called at each flush (every FLUSH_EVERY
    events: a few ms each)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def make_context(
    connector: Connector,
    *,
    directory: Directory | None = None,
    as_of: date | None = None,
    settings: Settings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Context:
    settings = settings or get_settings()
    return Context(
        source=connector.source,
        secret=settings.pseudonym_secret,
        directory=directory,
        as_of=as_of,
        min_age=settings.rules.min_age_published,
        clock=clock or utc_now,
    )


def key_of(event: Event, secret: str) -> str:
    p = event["person"]
    return person_key(p["ine"], p["nom"], p["prenom"], p["date_naissance"], secret)


def screen(mapped: Mapped, ctx: Context) -> Verdict:
    """Under-15 filter, then FUTURE_DATE, then the person key of each event kept.

    Events about a person under `ctx.min_age` at their event date are dropped; a record
    all of whose events are dropped is Filtered (a record with no event at all is
    Accepted with nothing to publish: unchanged). A kept event dated after the as-of
    (`mapped.as_of`, else `ctx.as_of`; no check when neither is known) rejects the record.
    """
    events = mapped.events
    min_age = ctx.min_age
    kept = []
    for e in events:
        birth, when = e["person"]["date_naissance"], e["event_date"]
        # age_at(birth, when) >= min_age, inlined
        if when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day)) >= min_age:
            kept.append(e)
    if events and not kept:
        return Filtered(mapped.warnings)
    limit = mapped.as_of or ctx.as_of
    if limit is not None:
        late = _late(kept, limit)
        if late is not None:
            return late
    secret = ctx.secret
    pairs = []
    for e in kept:
        p = e["person"]
        pairs.append((person_key(p["ine"], p["nom"], p["prenom"], p["date_naissance"], secret), e))
    return Accepted(tuple(pairs), mapped.warnings)


def screen_rejected(rejected: Rejected, ctx: Context, as_of: date | None = None) -> Rejected | Filtered:
    """A refused record about a person under `ctx.min_age` is filtered, not sent to the
    dead-letter topic: "connectors publish nothing about a person under 15" (rules.md
    §2), and a dead letter carries the raw record. The person is known to be under age
    when their date of birth is valid and they are under age at the record's event date,
    or — that date unreadable — at the as-of (`as_of`, else `ctx.as_of`), which no valid
    event date may pass. Otherwise (no valid date of birth, or nothing to compare it
    with) the record stays rejected."""
    born = rejected.born
    if born is None:
        return rejected
    when = rejected.event_date or as_of or ctx.as_of
    if when is not None and age_at(born, when) < ctx.min_age:
        return Filtered()
    return rejected


def _late(events: list[Event], limit: date) -> Rejected | None:
    late = sorted(e["event_date"] for e in events if e["event_date"] > limit)
    if not late:
        return None
    return Rejected.one(
        FUTURE_DATE, f"date d'événement {late[0].isoformat()} postérieure à la date d'arrêté {limit.isoformat()}")


def future_date(events: list[Event], limit: date, min_age: int) -> Rejected | None:
    """`screen`'s FUTURE_DATE check alone: the rejection when an event that the under-15
    filter keeps is dated after `limit`, else None."""
    return _late([e for e in events if age_at(e["person"]["date_naissance"], e["event_date"]) >= min_age], limit)


def check_record(
    connector: Connector,
    row: Mapping[str, Any],
    ctx: Context,
    *,
    ref: str = "api",
) -> Verdict:
    """One record given as a mapping (HTTP `POST /api/v1/ingest/{source}`): validate,
    map and screen it, publish nothing. Accepted → publish its (key, event) pairs
    (skipping ids already seen); Filtered → nothing; Rejected → 422 with its reasons.
    Pass `ctx.as_of` (e.g. today) to refuse events dated in the future."""
    outcome = connector.validate(row, ctx, ref=ref)
    return screen(outcome, ctx) if isinstance(outcome, Mapped) else screen_rejected(outcome, ctx)


async def _nothing() -> AsyncIterator[Item]:
    return
    yield


async def run_ingest(
    connector: Connector,
    path: str | Path,
    *,
    sink: Sink,
    seen: SeenEvents,
    snapshots: SnapshotStore | None = None,
    directory: Directory | None = None,
    as_of: date | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    clock: Callable[[], datetime] | None = None,
) -> IngestResult:
    """Run `connector` over `path` and publish through `sink`; return the counts.

    Raises InputError for a problem with the whole input (nothing published then).
    `progress(done_bytes, total_bytes)` is called now and then (and once at the end).
    """
    path = Path(path)
    ctx = make_context(connector, directory=directory, as_of=as_of, settings=settings, clock=clock)
    if connector.needs_directory and directory is None:
        raise InputError(f"{connector.source}: l'annuaire n'est pas chargé (hub directory load)")
    if connector.needs_snapshots and snapshots is None:
        raise ValueError(f"{connector.source}: a SnapshotStore is required")
    if not path.exists():
        raise InputError(f"{path}: fichier introuvable")
    if path.is_dir() and not connector.accepts_directory_path:
        raise InputError(f"{path}: un fichier est attendu, pas un dossier")

    batch = connector.open(path, ctx, snapshots)
    try:
        batch.prepare(progress)
        workers = parallel.wanted(batch)
        if not workers:  # with workers: loaded while they start
            await seen.load([connector.topic])
        result = IngestResult(source=connector.source)
        latest: date | None = None
        topic, dlq = connector.topic, connector.dlq_topic

        contains, add, sink_publish = seen.contains, seen.add, sink.publish
        durable = getattr(seen, "durable", None)  # KafkaSeenEvents: ids now acknowledged
        stateful = type(batch).apply is not Batch.apply
        settlement, apply, map_record = batch.settlement, batch.apply, batch.map

        async def publish(items: tuple[tuple[str, Event], ...]) -> int:
            new = 0
            for key, event in items:
                eid = event["event_id"]
                if contains(eid):
                    continue
                await sink_publish(topic, key, event)
                add(eid)
                new += 1
            return new

        async def flush() -> None:
            await sink.flush()
            if durable is not None:
                durable()
            trim_heap()

        since_flush = 0

        async def record(item: RawRecord) -> None:
            """One record read: map, screen, publish or dead-letter, account (the same
            steps as connectors.core.parallel's worker and main sides together)."""
            nonlocal latest, since_flush
            result.read += 1
            if progress is not None and result.read % PROGRESS_EVERY == 0:
                progress(batch.bytes_done, batch.bytes_total)
            outcome = Rejected((item.error,)) if item.error is not None else map_record(item)
            if outcome.__class__ is Mapped:
                verdict = screen(outcome, ctx)
                events = outcome.events
                if events and verdict.__class__ is not Rejected:
                    newest = max(e["event_date"] for e in events) if len(events) > 1 else events[0]["event_date"]
                    if latest is None or newest > latest:
                        latest = newest
            else:
                verdict = outcome
                if verdict.__class__ is Rejected:
                    when = verdict.event_date  # rejected for another field: still dated
                    if when is not None and (latest is None or when > latest):
                        latest = when
                    verdict = screen_rejected(verdict, ctx)
            vcls = verdict.__class__
            if vcls is Accepted:
                new = await publish(verdict.events) if verdict.events else 0
                result.warnings += verdict.warnings
                since_flush += result.accepted(new)
                if since_flush >= FLUSH_EVERY:
                    since_flush = 0
                    await flush()
            elif vcls is Filtered:
                result.filtered += 1
                result.warnings += verdict.warnings
            else:
                result.rejected += 1
                await sink.dead_letter(dlq, parallel.dead_letter_record(connector.source, item, verdict, ctx,
                                                                        batch.replay_fields(item)))
            if stateful:
                apply(settlement(item, verdict))

        if workers:  # the same steps, on worker processes and this one
            latest = await parallel.run_records(connector, batch, ctx, sink=sink, seen=seen, result=result,
                                                progress=progress, flush=flush, flush_every=FLUSH_EVERY,
                                                load_seen=lambda: seen.load([topic]))
            items = _nothing()
        else:
            items = batch.items()
        async for item in items:
            cls = item.__class__
            if cls is RawRecord:
                await record(item)
            elif cls is Records:
                if parallel.wanted(item):
                    newest = await parallel.run_records(connector, batch, ctx, sink=sink, seen=seen, result=result,
                                                        progress=progress, flush=flush, flush_every=FLUSH_EVERY,
                                                        records=item)
                    if newest is not None and (latest is None or newest > latest):
                        latest = newest
                    continue
                for one in item.read(None):
                    assert one is not None
                    await record(one)
            elif cls is Derived:
                # Dated at the snapshot's own as-of: only the under-15 filter applies.
                verdict = screen(Mapped(item.events, as_of=date.max), ctx)
                if isinstance(verdict, Accepted):
                    new = await publish(verdict.events)
                    result.events += new
                    since_flush += new
            elif cls is Commit:
                await flush()
                since_flush = 0
                await item.action()
        await flush()
        if progress is not None:
            progress(batch.bytes_total, batch.bytes_total)
        result.as_of = ctx.as_of or batch.as_of or latest
        result.files = getattr(batch, "files", [path.name])
        result.check()
        if result.as_of is not None:
            await sink.watermark(connector.source, result.as_of)
        return result
    finally:
        batch.close()
