"""Two watchdogs of the worker. The commit watchdog: a partition whose committed offset
no longer moves although records wait behind it is read again from that offset.

Why: Faust commits a partition up to the first offset its streams have not acknowledged
(`Consumer._new_offset`). Across a rebalance with a backlog, it can lose track of a
record it had fetched — seen with two workers joining while the first one was catching
up: the record is neither processed nor acknowledged, the committed offset stops there,
and the worker idles with records behind it. Nothing is lost (the offset is never
committed past the record), but nothing moves either: `hub worker --until-idle` would
wait for ever and the partition's persons would no longer be followed.

What: every CHECK_EVERY seconds, for every input partition the worker owns, the
committed offset (Faust's own) and the partition's end offset are looked at. A partition
whose committed offset is below its end and has not moved while the engine processed
nothing for `patience` seconds is stalled: its acknowledgement bookkeeping is reset and
the consumer seeks back to the committed offset, so every record from there is delivered
again. Re-delivery is what at-least-once already means here: the engine drops an event
it has seen (event id) and its internal messages are idempotent (core.py).

While the engine processes anything, or while Faust rebalances or recovers its tables,
nothing is judged: a long tick is not a stall.

The broker watch: the clients retry an unreachable broker for ever, and their own error
lines are silenced (one per retry, see hub/cli/main.py), so a worker whose Kafka is down
would say nothing. Every CHECK_EVERY seconds it asks the broker for its metadata
(`IdempotentProducer.broker_answers`); after BROKER_PATIENCE seconds without an answer it
warns, again every BROKER_REPEAT seconds, and says when the broker answers again. Nothing
else changes: the worker waits and goes on by itself (a record still undelivered after
Faust's producer request timeout, 20 min, stops it: app.py `stop_fatal`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP

CHECK_EVERY = 5.0  # seconds between two looks
PATIENCE = 30.0  # seconds without progress before a partition counts as stalled (settings)
BROKER_PATIENCE = 10.0  # seconds without an answer from Kafka before the first warning
BROKER_REPEAT = 60.0  # seconds between two warnings while it stays silent


@dataclass
class StallWatch:
    """Which partitions have been stalled for `patience` seconds (pure: the times,
    offsets and progress counter are given)."""

    patience: float = PATIENCE
    _since: dict[TP, tuple[int, float]] = field(default_factory=dict)  # tp → (committed, since)
    _progress: tuple[int, float] | None = None  # (processed, since)

    def stalled(
        self, now: float, processed: int, committed: Mapping[TP, int | None], ends: Mapping[TP, int | None]
    ) -> list[TP]:
        """The partitions to read again: committed below their end, the committed offset
        unchanged and the engine's processed count unchanged for `patience` seconds. A
        partition returned starts a new wait (it is not returned again at once)."""
        if self._progress is None or self._progress[0] != processed:
            self._progress = (processed, now)
        quiet_since = self._progress[1]
        waiting: dict[TP, tuple[int, float]] = {}
        out: list[TP] = []
        for tp, offset in committed.items():
            end = ends.get(tp)
            if offset is None or end is None or offset >= end:
                continue  # nothing behind it (or never committed: the rebalance's business)
            seen = self._since.get(tp)
            since = seen[1] if seen is not None and seen[0] == offset else now
            if now - max(since, quiet_since) >= self.patience:
                out.append(tp)
                since = now
            waiting[tp] = (offset, since)
        self._since = waiting
        return sorted(out)

    def forget(self) -> None:
        """Start over (after a rebalance: the offsets seen are no longer ours)."""
        self._since.clear()
        self._progress = None


async def read_again(consumer: Any, tps: Iterable[TP], committed: Mapping[TP, int]) -> None:
    """Make Faust's consumer deliver `tps` again from their committed offsets: forget
    what it believes acknowledged or skipped there, then seek (Faust's `seek` also sets
    the read offset, so the record at the committed offset is delivered)."""
    for tp in tps:
        consumer._acked.pop(tp, None)  # noqa: SLF001 — Faust has no API for this
        consumer._acked_index.pop(tp, None)  # noqa: SLF001
        consumer._gap.pop(tp, None)  # noqa: SLF001
        await consumer.seek(tp, committed[tp])


@dataclass
class BrokerWatch:
    """What to say about the broker (pure: the probes' times and results are given).

    `observe` returns ("down", seconds) when the broker has not answered for `patience`
    seconds, then every `repeat` seconds while that lasts; ("back", seconds) at the first
    answer after a warning; None otherwise (a short hiccup says nothing)."""

    patience: float = BROKER_PATIENCE
    repeat: float = BROKER_REPEAT
    _silent_since: float | None = None
    _warned_at: float | None = None

    def observe(self, now: float, answered: bool) -> tuple[str, float] | None:
        if answered:
            since, warned = self._silent_since, self._warned_at
            self._silent_since = self._warned_at = None
            return ("back", now - since) if since is not None and warned is not None else None
        if self._silent_since is None:
            self._silent_since = now
        silent = now - self._silent_since
        if silent < self.patience:
            return None
        if self._warned_at is None or now - self._warned_at >= self.repeat:
            self._warned_at = now
            return ("down", silent)
        return None

