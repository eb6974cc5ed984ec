"""Where a SIECLE diff keeps its pupils: in memory for a usual export, on local disk for
a huge one, so that memory stays flat whatever the export size.

A diff needs, per pupil, the previous snapshot's state (exit flag + identity), the new
snapshot being built, and the ids already met in the file. An establishment has a few
hundred to a few thousand pupils: plain dicts. Above `MEMORY_LIMIT` pupils (a whole
academy exported under one UAJ has millions) the tables live in a scratch RocksDB
(rocksdict, already used by the worker) in a temporary directory, deleted at the end of
the run: ≈ 1 µs a lookup or an insert, memory bounded by RocksDB's buffers and cache (≈ 30 MiB,
`hub.rocks`),
iteration in key order for the snapshot's save. The scratch holds no state of its own:
the snapshot of record is on Kafka (hub/kafka/snapshots.py).

`RETENTION`: how long an exited pupil is remembered after their exit (the source
events' retention, `hub.kafka.topics.EVENT_RETENTION_MS`: 25 × 31 days). An exited pupil
is a compact entry (`PupilState.gone`: ≈ 20 bytes), so a state holds a few school years
of departures; beyond the horizon they are forgotten (see connector.py for what that
means for a very old export).
"""

from __future__ import annotations

import marshal
import shutil
import tempfile
import weakref
from collections.abc import Iterator, MutableMapping
from datetime import date, timedelta
from pathlib import Path

from hub.bloom import Bloom
from hub.rocks import open_bounded

from connectors.core.types import PupilState

MEMORY_LIMIT = 50_000
CACHE_BYTES = 8 << 20  # the scratch RocksDB's block cache: data, index and filter blocks
RETENTION = timedelta(days=25 * 31)


class Scratch:
    """One RocksDB in a temporary directory; tables are key prefixes in it."""

    def __init__(self, parent: Path | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="hub-scratch-", dir=parent))
        self.db = open_bounded(self.path, cache_bytes=CACHE_BYTES, write_buffer_bytes=8 << 20)
        self._next = 0
        self._finalizer = weakref.finalize(self, Scratch._cleanup, self.db, self.path)

    def prefix(self) -> bytes:
        self._next += 1
        return self._next.to_bytes(3, "big")

    def pupils(self, expected: int = 0) -> DiskPupils:
        return DiskPupils(self, self.prefix(), expected)

    def ids(self, expected: int = 0) -> DiskIds:
        return DiskIds(self, self.prefix(), expected)

    @staticmethod
    def _cleanup(db, path: Path) -> None:
        try:
            db.close()
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        self._finalizer()


def _dump(s: PupilState) -> bytes:
    if s.exited:
        return marshal.dumps(s.exited_on.toordinal() if s.exited_on else 0)
    if s.date_naissance is None:  # never accepted
        return marshal.dumps(None)
    return marshal.dumps((s.ine, s.nom, s.prenom, s.date_naissance.toordinal(), s.commune))


def _load(b: bytes) -> PupilState:
    v = marshal.loads(b)
    if v.__class__ is int:  # an exited pupil: the exit's ordinal (0: unknown)
        return PupilState.gone(date.fromordinal(v) if v else date.min)
    if v is None:
        return PupilState.unaccepted()
    ine, nom, prenom, born, commune = v
    return PupilState(False, ine, nom, prenom, date.fromordinal(born), commune)


class DiskPupils(MutableMapping[str, PupilState]):
    """ELEVE_ID → PupilState in a Scratch (iterates in key order)."""

    def __init__(self, scratch: Scratch, prefix: bytes, expected: int = 0) -> None:
        self.scratch = scratch  # keeps the scratch alive as long as the table
        self._db = scratch.db
        self._prefix = prefix
        self._count = 0
        self._bloom = Bloom(expected, max_log2=25)  # every key ever written here (deleted ones too)

    def _read(self, k: bytes) -> bytes | None:
        return self._db.get(k) if k in self._bloom else None

    def get(self, key: str, default: PupilState | None = None) -> PupilState | None:  # type: ignore[override]
        value = self._read(self._prefix + key.encode())
        return default if value is None else _load(value)

    def __getitem__(self, key: str) -> PupilState:
        value = self._read(self._prefix + key.encode())
        if value is None:
            raise KeyError(key)
        return _load(value)

    def __setitem__(self, key: str, state: PupilState) -> None:
        k = self._prefix + key.encode()
        if self._read(k) is None:
            self._count += 1
            self._bloom.add(k)
        self._db[k] = _dump(state)

    def put_new(self, key: str, state: PupilState) -> None:
        """Insert a key known to be absent (bulk load): no read before the write."""
        k = self._prefix + key.encode()
        self._count += 1
        self._bloom.add(k)
        self._db[k] = _dump(state)

    def __delitem__(self, key: str) -> None:
        k = self._prefix + key.encode()
        if self._read(k) is None:
            raise KeyError(key)
        self._count -= 1
        del self._db[k]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._read(self._prefix + key.encode()) is not None

    def items(self) -> Iterator[tuple[str, PupilState]]:  # type: ignore[override]
        prefix, n = self._prefix, len(self._prefix)
        for k, v in self._db.items(from_key=prefix):
            if not k.startswith(prefix):
                break
            yield k[n:].decode(), _load(v)

    def __iter__(self) -> Iterator[str]:
        for k, _ in self.items():
            yield k

    def __len__(self) -> int:
        return self._count


class DiskIds:
    """A set of ELEVE_IDs in a Scratch."""

    def __init__(self, scratch: Scratch, prefix: bytes, expected: int = 0) -> None:
        self.scratch = scratch
        self._db = scratch.db
        self._prefix = prefix
        self._bloom = Bloom(expected, max_log2=25)

    def add(self, key: str) -> None:
        k = self._prefix + key.encode()
        self._bloom.add(k)
        self._db[k] = b""

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        k = self._prefix + key.encode()
        return k in self._bloom and self._db.get(k) is not None
