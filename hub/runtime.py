"""CPython's cyclic garbage collector, set for the hub's long record loops.

The engine and the connectors allocate and free millions of small containers (decoded
events, unpickled person states, parsed records), which reference counting frees as
soon as they are done with; yet every 700 container allocations net of frees trigger a
collection, and every few of those a full one that walks every live object. Measured
with CPython's default thresholds (700, 10, 10): 2.1 s of a 50,000-event engine run's
15 s of CPU (2,900 collections, 21 of them full) and 0.55 s of the 5.7 s of a
100,000-pupil SIECLE ingest. A first threshold of 50,000 still collects what cycles there are
(asyncio's futures and tracebacks make some) at a few tenths of a second, for the same
peak RSS. What start-up built (Faust's app, schemas, the directory) is frozen out of
every later collection.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 20)


def collect_less() -> None:
    """Collect cycles less often (THRESHOLDS); called once per process, at start."""
    gc.set_threshold(*THRESHOLDS)


def freeze_startup() -> None:
    """Keep what the process has built so far out of every later collection (no
    collection first: the cycles start-up may leave are a few, and a collection of a
    test process's heap would cost more than they weigh)."""
    gc.freeze()
