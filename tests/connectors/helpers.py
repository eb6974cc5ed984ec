"""Helpers for the connector unit tests: fake directory, file writers, a run wrapper."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

from hub.settings import Settings
from hub.types.directory import Cti
from hub.validation import FieldError, check_siret, uai_check_letter

from connectors import get_connector, run_ingest
from connectors.core.memory import MemorySeenEvents, MemorySink, MemorySnapshotStore
from connectors.core.types import IngestResult

SETTINGS = Settings(pseudonym_secret="test-secret")


def uai(digits: str) -> str:
    return digits + uai_check_letter(digits)


_DRAWN: set[str] = set()


def fresh_uai(prefix: str = "086") -> str:
    """A valid UAI no other test of this session has drawn: the broker-backed tests share
    one broker, and two tests ingesting the same UAJ would share its SIECLE snapshot
    (a random draw among 10,000 collides in a few % of runs)."""
    while True:
        digits = prefix + "".join(random.choice("0123456789") for _ in range(7 - len(prefix)))
        code = uai(digits)
        if code not in _DRAWN:
            _DRAWN.add(code)
            return code


def siret(prefix13: str) -> str:
    """A 14-digit SIRET with a valid Luhn key (the hub's own check decides)."""
    for last in "0123456789":
        try:
            return check_siret(prefix13 + last)
        except FieldError:
            continue
    raise AssertionError(prefix13)


UAI_LP = uai("0860012")
UAI_B = uai("0860034")
UAI_CFA = uai("0861234")
SIRET = siret("7328293200007")
ML = "ML-86-POI"
CTI_CODE = "CTI-E-86-01"


class FakeDirectory:
    def __init__(self, mls: tuple[str, ...] = (ML,), ctis: tuple[str, ...] = (CTI_CODE,)) -> None:
        self.mls = set(mls)
        self.ctis = set(ctis)

    def has_mission_locale(self, code: str) -> bool:
        return code in self.mls

    def cti(self, code: str) -> Cti | None:
        return Cti(code, "ETAT", "CTI test") if code in self.ctis else None

    def observatoire_for_commune(self, commune: str) -> str | None:
        return None

    def mission_locale_for_commune(self, commune: str) -> str | None:
        return None

    def etablissement(self, uai: str):
        return None

    def observatoire_of_mission_locale(self, code: str) -> str | None:
        return None


DIRECTORY = FakeDirectory()


def write_csv(path: Path, header: str, rows: list[str], *, encoding: str = "utf-8", bom: bool = False, eol: str = "\n") -> Path:
    text = eol.join([header, *rows]) + eol
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


class Harness:
    """One hub's worth of state across runs: the sink, the seen ids, the snapshots."""

    def __init__(self) -> None:
        self.sink = MemorySink()
        self.seen = MemorySeenEvents()
        self.snapshots = MemorySnapshotStore()

    async def run(self, source: str, path: Path, *, as_of: date | None = None, directory: Any = DIRECTORY, progress=None) -> IngestResult:
        return await run_ingest(
            get_connector(source),
            path,
            sink=self.sink,
            seen=self.seen,
            snapshots=self.snapshots,
            directory=directory,
            as_of=as_of,
            settings=SETTINGS,
            progress=progress,
        )

    @property
    def events(self) -> list[dict]:
        return self.sink.events

    @property
    def dlq(self) -> list[dict]:
        return [r for _, r in self.sink.dead_letters]

    def reasons(self) -> list[str]:
        return [r["reason"] for r in self.dlq]


def counts(result: IngestResult) -> dict[str, Any]:
    d = result.to_json()
    d.pop("source")
    d.pop("as_of")
    return d
