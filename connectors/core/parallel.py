"""The ingest loop on several processes: workers read, validate, screen and encode; the
process owning the producer only checks the seen ids, queues messages and counts.

Why. Reading, validating, screening and Avro-encoding a CSV record costs ≈ 15 µs of
Python, queueing it on Kafka and accounting for it ≈ 5 µs more: on one core the ingest
is bounded by their sum. Worker processes (forked: they inherit the opened batch, the
context and a copy of the sink, no start-up cost) take the first part.

What moves. Two kinds of work go through here:
- a whole batch whose records are independent (`Batch.records()` returns an iterator:
  CSV and JSON Lines sources, whose `map` is a pure function of the record and which
  keep no state): the workers are forked before the first record, and each reads the
  file through its own handles (`Batch.reopen()`);
- a `Records` item of a stateful batch (the pupils of one SIECLE export): the workers
  are forked when the item comes, so they inherit the batch's state at that point (the
  UAJ's previous snapshot), which `map` reads and does not change; what a record
  changes in the state travels back as its `settlement`, which this process `apply`s in
  record order — as the single-process loop does right after mapping it.
Records are cut into chunks of `CHUNK` in file order; worker k of n reads every record
and maps the chunks c with c % n == k, running exactly what the single-process loop
runs for a record — `map`, `screen`, the dead letter's fields, `sink.prepare` when the
sink has one (else the event itself travels), `settlement` — and writes one entry per
record, chunk by chunk, on its pipe (8-byte length + pickle). The main process reads
chunk 0, 1, 2… from the pipes in turn with the event loop (no thread) and does what
depends on its own state, in the same order as the single-process loop: the seen-ids
check and `add`, the publication, the flush every FLUSH_EVERY new events (then
`seen.durable()`), the dead letters, the counts, `apply`, the latest event date, the
progress. Same events, same order, same counts, dead letters and state: only the
process doing the work differs. Memory stays flat: a worker blocks once its pipe
(1 MiB) and the reader's buffer are full.

When. `HUB_CONNECTOR_WORKER`: `auto` (default) uses workers for a file (a SIECLE export:
its `Records`, unless its state is in a scratch RocksDB, which a forked process must not
touch) of at least `MIN_BYTES` when fork exists and the process may run on two CPUs or more; `1` always
(tests/connectors pass both ways), `0` never. `HUB_CONNECTOR_WORKERS`: how many
(default `WORKERS` = 2: with the main process, two cores kept busy). An exception in a
worker is raised again in the main process; the workers are killed if the main process
fails or is cancelled, and end by themselves if it is killed (-9): see `_work`. On a
machine whose cores are already busy the workers gain nothing (the work is the same,
plus ≈ 10 % of pickling): set `0` there.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import pickle
import struct
import traceback
from collections.abc import Callable, Mapping
from datetime import date
from itertools import islice
from typing import Any

from connectors.core.fields import MAX_FIELD_CHARS
from connectors.core.types import (
    REPLAY_AS_OF,
    Accepted,
    Batch,
    Connector,
    Context,
    Filtered,
    IngestResult,
    Mapped,
    Progress,
    RawRecord,
    Records,
    Rejected,
    SeenEvents,
    Sink,
)

CHUNK = 1000  # records per message on the pipe
MIN_BYTES = 1 << 20  # below, a worker is not worth its fork
ENV = "HUB_CONNECTOR_WORKER"
WORKERS = 2

# Entry kinds (one entry per record read, in order).
ACCEPTED, FILTERED, REJECTED = 0, 1, 2


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def workers() -> int:
    """How many worker processes (HUB_CONNECTOR_WORKERS, default WORKERS)."""
    try:
        return max(1, int(os.environ.get(ENV + "S", WORKERS)))
    except ValueError:
        return WORKERS


def wanted(work: Batch | Records) -> bool:
    """Should `run_ingest` hand this batch, or these records of a batch, to worker processes?"""
    mode = os.environ.get(ENV, "auto").strip().lower()
    if mode in ("0", "no", "false", "off") or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if isinstance(work, Records):
        if not work.forkable:
            return False
        size = work.size
    else:
        if work.records() is None:
            return False
        size = work.bytes_total
    if mode in ("1", "yes", "true", "on"):
        return True
    return _cpus() >= 2 and size >= MIN_BYTES  # one CPU: nothing to share


# A dead letter must fit in a Kafka message (1 MB): an over-long record (refused for its
# length, see `Fields`) keeps its beginning and says how long it was. A value cut in the
# row stays over the limit, so `hub dlq replay` refuses it again.
MAX_RAW_CHARS = 100_000


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [tronqué : {len(text)} caractères]"


def dead_letter_record(source: str, item: RawRecord, verdict: Rejected, ctx: Context,
                       extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The dead letter of a rejected record (see runner). Its `row` is the record keyed
    by column when it is a flat map of strings, plus what `hub dlq replay` needs to
    validate it as this run did: the run's `--as-of` (REPLAY_AS_OF) and `extra`, the
    batch's `replay_fields` (which may give a record's own as-of). None when empty."""
    row = item.row
    if row is None or not all(isinstance(v, str) for v in row.values()):
        dlq_row = {}
    else:
        dlq_row = {str(k): _bounded(v, MAX_FIELD_CHARS + 100) for k, v in row.items()}
        dlq_row.pop(REPLAY_AS_OF, None)  # only this run says what it checked against
    if ctx.as_of is not None:
        dlq_row[REPLAY_AS_OF] = ctx.as_of.isoformat()
    if extra:
        dlq_row.update(extra)
    return {
        "source": source,
        "file": item.file,
        "position": item.position,
        "reason": verdict.reason,
        "detail": verdict.detail,
        "raw": _bounded(item.raw, MAX_RAW_CHARS),
        "row": dlq_row or None,
        "received_at": ctx.clock().isoformat(),
    }


# --------------------------------------------------------------------------- worker


def _entry_maker(batch: Batch, source: str, topic: str, ctx: Context,
                 prepare: Callable[[str, str, dict], Any] | None) -> Callable[[RawRecord], tuple]:
    """What the single-process loop does for a record up to the seen-ids check, as an entry."""
    from connectors.core.runner import screen, screen_rejected

    map_record = batch.map
    replay_fields = batch.replay_fields
    settlement = batch.settlement

    def entry(item: RawRecord) -> tuple:
        outcome = Rejected((item.error,)) if item.error is not None else map_record(item)
        newest = None
        if outcome.__class__ is Mapped:
            verdict = screen(outcome, ctx)
            events = outcome.events
            if events and verdict.__class__ is not Rejected:
                newest = max(e["event_date"] for e in events) if len(events) > 1 else events[0]["event_date"]
        else:
            verdict = outcome
            if verdict.__class__ is Rejected:
                newest = verdict.event_date  # rejected for another field: still dated
                verdict = screen_rejected(verdict, ctx)
        vcls = verdict.__class__
        if vcls is Accepted:
            if prepare is None:
                messages = tuple((e["event_id"], key, e) for key, e in verdict.events)
            else:
                messages = tuple((e["event_id"], key, prepare(topic, key, e)) for key, e in verdict.events)
            return ACCEPTED, verdict.warnings, newest, messages, settlement(item, verdict)
        if vcls is Filtered:
            return FILTERED, verdict.warnings, newest, None, settlement(item, verdict)
        letter = dead_letter_record(source, item, verdict, ctx, replay_fields(item))
        return REJECTED, letter, newest, None, settlement(item, verdict)

    return entry


_FRAME = struct.Struct("<Q")
_PIPE_SIZE = 1 << 20  # a chunk fits: the worker goes on while this process publishes


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_SIZE)
    except (ImportError, OSError):
        pass  # Linux only, and capped by /proc/sys/fs/pipe-max-size: the default then


def _send(fd: int, message: tuple) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    view = memoryview(_FRAME.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _work(fd: int, inherited: list[int], batch: Batch, k: int, n: int, source: str, topic: str, ctx: Context,
          prepare: Any, work: Records | None) -> None:
    """Worker `k` of `n`: reads every record (the batch's through its own file handles, or
    `work`'s), maps those of the chunks c with c % n == k and sends ("chunk", c,
    bytes_done, entries) for each, then ("end", chunks, None); ("error", exception, None)
    if anything fails. The batch is this process's copy, forked with its state: `work`'s
    records are mapped against that state, the main process applying their settlements.

    `inherited`: the read ends of the pipes (its own, the earlier workers') that the fork
    copied. Closed first, so that the main process is their only reader: when it dies,
    even by kill -9, the next write fails (EPIPE) and the worker ends, instead of
    blocking for ever on a full pipe that it holds open itself."""
    for other in inherited:
        try:
            os.close(other)
        except OSError:
            pass
    try:
        skip = None if n == 1 else (lambda i: (i // CHUNK) % n != k)
        if work is None:
            own = batch.reopen()  # type: ignore[attr-defined]
            records = own.records(skip)
        else:
            own, records = batch, work.read(skip)
        assert records is not None
        entry = _entry_maker(own, source, topic, ctx, prepare)
        c = 0
        while True:
            block = list(islice(records, CHUNK))
            if not block:
                break
            if c % n == k:
                _send(fd, ("chunk", c, own.bytes_done, [entry(item) for item in block]))
            c += 1
        if work is None:
            own.close()  # its own handles (the forked batch's files are the main process's)
        _send(fd, ("end", c, None))
    except BaseException as exc:  # noqa: BLE001 — everything goes back to the main process
        error: BaseException = exc
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # noqa: BLE001 — an exception that does not survive pickling
            error = RuntimeError("".join(traceback.format_exception(exc)))
        try:
            _send(fd, ("error", error, None))
        except OSError:
            pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- main side


async def run_records(
    connector: Connector,
    batch: Batch,
    ctx: Context,
    *,
    sink: Sink,
    seen: SeenEvents,
    result: IngestResult,
    progress: Progress | None,
    flush: Callable[[], Any],
    flush_every: int,
    load_seen: Callable[[], Any] | None = None,
    records: Records | None = None,
) -> date | None:
    """The record loop of `run_ingest` with worker processes, over the batch's records or,
    given, over `records` only; returns the latest event date met (the default as-of: see
    runner). `load_seen()`, when given, is awaited once the workers are started (it reads
    Kafka while they work)."""
    topic, dlq, source = connector.topic, connector.dlq_topic, connector.source
    prepare = getattr(sink, "prepare", None)
    offer = getattr(sink, "offer", None)
    publish_prepared = getattr(sink, "publish_prepared", None)
    if prepare is None or offer is None or publish_prepared is None:
        prepare = None
    else:
        ready = getattr(sink, "ready", None)
        if ready is not None:
            await ready(topic)  # the worker's copy of the sink then knows the partitions

    # Each worker writes frames (8-byte length + pickle) on its own pipe; the event loop
    # reads them (no thread: a reader thread would wait for the GIL behind this loop).
    mp = multiprocessing.get_context("fork")
    n = workers()
    loop = asyncio.get_running_loop()
    readers: list[asyncio.StreamReader] = []
    transports: list[asyncio.BaseTransport] = []
    processes: list[Any] = []
    read_ends: list[int] = []

    def stop_workers() -> None:
        for process in processes:
            if process.is_alive():
                process.kill()
        for transport in transports:
            transport.close()

    try:
        for k in range(n):
            rfd, wfd = os.pipe()
            _grow_pipe(wfd)
            read_ends.append(rfd)
            # Frozen: the worker's garbage collector then never walks (hence never copies)
            # the pages it shares with this process.
            gc.freeze()
            try:
                process = mp.Process(target=_work, args=(wfd, list(read_ends), batch, k, n, source, topic, ctx,
                                                         prepare, records),
                                     name=f"hub-ingest-{source}-{k}", daemon=True)
                process.start()
            finally:
                gc.unfreeze()
                os.close(wfd)
            processes.append(process)
            reader = asyncio.StreamReader(limit=1 << 20)
            transport, _ = await loop.connect_read_pipe(lambda r=reader: asyncio.StreamReaderProtocol(r),
                                                        os.fdopen(rfd, "rb", buffering=0))
            readers.append(reader)
            transports.append(transport)
        if load_seen is not None:
            await load_seen()
    except BaseException:
        stop_workers()
        for process in processes:
            process.join()
        raise

    async def receive(k: int) -> tuple:
        try:
            (size,) = _FRAME.unpack(await readers[k].readexactly(_FRAME.size))
            return pickle.loads(await readers[k].readexactly(size))
        except asyncio.IncompleteReadError:
            await loop.run_in_executor(None, processes[k].join)
            code = processes[k].exitcode
            return ("error", RuntimeError(f"{source}: un processus de lecture s'est arrêté (code {code})"), None)

    contains, add, sink_publish = seen.contains, seen.add, sink.publish
    apply = batch.apply if type(batch).apply is not Batch.apply else None
    latest: date | None = None
    since_flush = 0
    pending: asyncio.Task | None = None
    c = 0  # chunk c comes from worker c % n, in order
    try:
        pending = asyncio.ensure_future(receive(0))
        while True:
            message = await pending
            pending = None
            if message[0] == "error":
                raise message[1]
            if message[0] == "end":
                break
            kind, chunk, done, entries = message
            assert kind == "chunk" and chunk == c, (kind, chunk, c)
            c += 1
            pending = asyncio.ensure_future(receive(c % n))  # the next chunk, while this one is published
            for entry in entries:
                result.read += 1
                what, _, newest, messages, settlement = entry
                if what == ACCEPTED:
                    warnings = entry[1]
                    if newest is not None and (latest is None or newest > latest):
                        latest = newest
                    result.warnings += warnings
                    new = 0
                    for eid, key, prepared in messages:
                        if contains(eid):
                            continue
                        if prepare is None:
                            await sink_publish(topic, key, prepared)  # the event itself
                        elif not offer(topic, prepared):
                            await publish_prepared(topic, prepared)
                        add(eid)
                        new += 1
                    since_flush += result.accepted(new)
                    if since_flush >= flush_every:
                        since_flush = 0
                        await flush()
                elif what == FILTERED:
                    if newest is not None and (latest is None or newest > latest):
                        latest = newest
                    result.filtered += 1
                    result.warnings += entry[1]
                else:
                    if newest is not None and (latest is None or newest > latest):
                        latest = newest
                    result.rejected += 1
                    await sink.dead_letter(dlq, entry[1])
                if apply is not None:
                    apply(settlement)
            if progress is not None:
                progress(done, batch.bytes_total)
        return latest
    finally:
        stop_workers()
        if pending is not None:
            pending.cancel()
            try:
                await pending
            except BaseException:  # noqa: BLE001 — the first error is the one raised
                pass
        for process in processes:
            await loop.run_in_executor(None, process.join)
