"""The ingest loop shared by every source, and the one-record check used over HTTP.

    read → validate/map (per source) → screen (under-15, FUTURE_DATE) → publish → account

Accounting: every record read ends in exactly one of
- `rejected`  invalid (dead letter with its reason), or an event date after the as-of;
- `filtered`  every event of the record is about a person under 15 at its event date;
- `published` at least one of its events was new (not already among SeenEvents);
- `unchanged` all its events were already published (or it gives none: a SIECLE pupil
  whose snapshot did not change).
`read = published + unchanged + filtered + rejected` is checked at the end. `events`
counts the new events published, including SIECLE exits by disappearance, which no read
record carries. `warnings` counts records kept whose invalid INE was dropped.

Nothing is published before the batch's `prepare()` succeeded (file-level checks: an
unreadable file, a bad CSV header, a malformed or truncated XML raise InputError).
After the last record the sink is flushed, then the watermark published with the as-of:
`--as-of` when given, else the source's default (SIECLE: earliest DATE_EXPORT; other
sources: the latest event date of the records that passed validation). A file with no
valid record and no `--as-of` has no as-of: no watermark.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hub.errors import InputError
from hub.identity import person_key
from hub.settings import Settings, get_settings
from hub.types.directory import Directory

from connectors.core.fields import age_at
from connectors.core.types import (
    FUTURE_DATE,
    Accepted,
    Commit,
    Connector,
    Context,
    Derived,
    Event,
    Filtered,
    IngestResult,
    Mapped,
    Progress,
    RawRecord,
    Rejected,
    SeenEvents,
    Sink,
    SnapshotStore,
    Verdict,
    utc_now,
)

PROGRESS_EVERY = 500


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
    kept = [e for e in mapped.events if age_at(e["person"]["date_naissance"], e["event_date"]) >= ctx.min_age]
    if mapped.events and not kept:
        return Filtered(mapped.warnings)
    limit = mapped.as_of or ctx.as_of
    if limit is not None:
        late = sorted({e["event_date"] for e in kept if e["event_date"] > limit})
        if late:
            return Rejected.one(
                FUTURE_DATE,
                f"date d'événement {late[0].isoformat()} postérieure à la date d'arrêté {limit.isoformat()}",
            )
    return Accepted(tuple((key_of(e, ctx.secret), e) for e in kept), mapped.warnings)


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
    return screen(outcome, ctx) if isinstance(outcome, Mapped) else outcome


def _dlq_row(record: RawRecord) -> dict[str, str] | None:
    row = record.row
    if row is None or not all(isinstance(v, str) for v in row.values()):
        return None
    return {str(k): v for k, v in row.items()}


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
        await seen.load([connector.topic])
        result = IngestResult(source=connector.source)
        latest: date | None = None
        topic, dlq = connector.topic, connector.dlq_topic

        async def publish(items: tuple[tuple[str, Event], ...]) -> int:
            new = 0
            for key, event in items:
                eid = event["event_id"]
                if seen.contains(eid):
                    continue
                await sink.publish(topic, key, event)
                seen.add(eid)
                new += 1
            return new

        n = 0
        async for item in batch.items():
            n += 1
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(batch.bytes_done, batch.bytes_total)
            if isinstance(item, RawRecord):
                result.read += 1
                outcome = Rejected((item.error,)) if item.error is not None else batch.map(item)
                if isinstance(outcome, Mapped):
                    verdict = screen(outcome, ctx)
                    if not isinstance(verdict, Rejected) and outcome.events:
                        newest = max(e["event_date"] for e in outcome.events)
                        latest = newest if latest is None or newest > latest else latest
                else:
                    verdict = outcome
                if isinstance(verdict, Rejected):
                    result.rejected += 1
                    await sink.dead_letter(
                        dlq,
                        {
                            "source": connector.source,
                            "file": item.file,
                            "position": item.position,
                            "reason": verdict.reason,
                            "detail": verdict.detail,
                            "raw": item.raw,
                            "row": _dlq_row(item),
                            "received_at": ctx.clock().isoformat(),
                        },
                    )
                elif isinstance(verdict, Filtered):
                    result.filtered += 1
                    result.warnings += verdict.warnings
                else:
                    new = await publish(verdict.events)
                    result.warnings += verdict.warnings
                    result.events += new
                    if new:
                        result.published += 1
                    else:
                        result.unchanged += 1
                batch.settle(item, verdict)
            elif isinstance(item, Derived):
                # Dated at the snapshot's own as-of: only the under-15 filter applies.
                verdict = screen(Mapped(item.events, as_of=date.max), ctx)
                if isinstance(verdict, Accepted):
                    result.events += await publish(verdict.events)
            elif isinstance(item, Commit):
                await sink.flush()
                await item.action()
        await sink.flush()
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
