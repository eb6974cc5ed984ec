"""The commit watchdog: a partition whose committed offset no longer moves although
records wait behind it is read again from that offset.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP

CHECK_EVERY = 5.0  # seconds between two looks
PATIENCE = 30.0  # seconds without progress before a partition counts as stalled (settings)


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
