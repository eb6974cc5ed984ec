"""The persons agent's intake: records handed over by the fetch loop, taken in batches.

Faust hands a fetched record to its agents through its conductor (an `Event` per record,
the key and value passed through its serializer registry, a queue per channel) and the
agent's stream (sensors, processors, the current event, an ack per record); for a bare
agent that is most of its ≈ 100 µs a record (bench/engine.py). The persons agent takes
its records by the thousand and needs nothing of that: the fetch loop
(`RewindingConsumer._drain_messages`) puts the records of its topics here as they are,
and the agent takes them in batches (`take`), then acknowledges each one to the
consumer itself, as the stream did.

What Faust's path did that matters is kept:

- **Back-pressure.** At most `maxsize` records wait here; a hand-over to a full intake
  waits, and the fetch loop with it, as when a stream's queue is full. A hand-over that
  waits is given up when a rebalance suspends the flow (`transport.deliver`).
- **Flow control.** A hand-over waits while the app's flow is suspended (a rebalance),
  as the conductor's does, and the intake is cleared with the streams' queues when
  Faust clears them (`FlowControlEvent.clear`, when a rebalance revokes partitions and
  when the flow resumes): the records it held are forgotten (never counted as
  acknowledged) and read again from the committed offset after the rebalance's seek.
- **Batches.** A batch closes `within` seconds after its first record arrived, or as
  soon as it holds `max_` (Faust's `take_events` closed it `within` seconds after it
  began waiting).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection
from typing import Any


class Intake:
    """Records of `topics` handed over by the fetch loop (`put`) and taken in batches by
    one agent (`take`); see the module doc."""

    def __init__(self, topics: Collection[str], maxsize: int, *, flow_control: Any = None,
                 track: Callable[[Any], None] = lambda message: None,
                 forget: Callable[[Any], None] = lambda message: None) -> None:
        self.topics = frozenset(topics)
        self.maxsize = maxsize
        self.flow_control = flow_control
        self.track = track  # a record taken: the consumer waits for its ack (rebalance, stop)
        self.forget = forget  # a record dropped: read again from the committed offset
        self._records: deque = deque()
        self._first_at: float | None = None  # when the oldest waiting record arrived
        self._arrived = asyncio.Event()  # records wait (set by put)
        self._full = asyncio.Event()  # a batch's worth waits
        self._room = asyncio.Event()  # under maxsize
        self._room.set()
        self._want = 1
        if flow_control is not None:
            flow_control.manage_queue(self)  # cleared with the streams' queues

    def __len__(self) -> int:
        return len(self._records)

    async def put(self, message: Any) -> None:
        """Hand one record over (a coroutine: the fetch loop's `deliver` runs it)."""
        if self.flow_control is not None:
            await self.flow_control.acquire()
        while len(self._records) >= self.maxsize:
            self._room.clear()
            await self._room.wait()
        if not self._records:
            self._first_at = asyncio.get_running_loop().time()
        self._records.append(message)
        self._arrived.set()
        if len(self._records) >= self._want:
            self._full.set()

    async def take(self, max_: int, within: float) -> list:
        """The next batch: at least one record, at most `max_`, closed `within` seconds
        after its first record arrived or once `max_` wait."""
        records = self._records
        while True:
            while not records:
                self._arrived.clear()
                await self._arrived.wait()
            if len(records) < max_:
                remaining = self._first_at + within - asyncio.get_running_loop().time()
                if remaining > 0:
                    self._want = max_
                    self._full.clear()
                    try:
                        await asyncio.wait_for(self._full.wait(), remaining)
                    except TimeoutError:
                        pass
                    finally:
                        self._want = 1
            if records:  # else cleared meanwhile (a rebalance)
                break
        batch = [records.popleft() for _ in range(min(max_, len(records)))]
        self._first_at = asyncio.get_running_loop().time() if records else None
        self._room.set()
        for message in batch:
            self.track(message)
        return batch

    def clear(self) -> None:
        """Forget every waiting record: read again from the committed offset."""
        while self._records:
            self.forget(self._records.popleft())
        self._first_at = None
        self._room.set()
