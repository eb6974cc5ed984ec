"""One publishing run per source at a time on a HUB_HOME (`hub ingest`, `hub dlq replay`).

Two runs of one source at once would each check their events against the ids already
on the topic *before* the other published them, and publish the same facts twice; two
SIECLE runs of one establishment would each diff against the same previous snapshot and
the last one saved would hide the exits of the other's (inputs.md: "never loses a record
silently"). The second run waits for the first (an advisory `flock` on
`<HUB_HOME>/locks/<source>.lock`, released by the kernel even when a run is killed -9),
then reads what the first published.

The lock is per HUB_HOME: machines ingesting the same source must share one (or take
turns), which the README states.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.settings import Settings


@asynccontextmanager
async def source_lock(settings: Settings, source: str, command: str) -> AsyncIterator[None]:
    folder = settings.home / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{source}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.stderr.write(f"{command} : une autre publication de la source {source} est en cours sur ce "
                             f"HUB_HOME ; attente de sa fin…\n")
            sys.stderr.flush()
            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
