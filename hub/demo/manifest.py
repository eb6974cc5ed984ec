"""What `generate()` hands back: the files to ingest, in order, with their source.

    manifest = generate(out_dir)
    for step in manifest.steps:
        step.argv(manifest.out_dir)   # ["ingest", "rectorat", "/…/siecle/2026-01-15"]
                                      # ["ingest", "cfa", "/…/cfa/…csv", "--as-of", "2026-06-30"]

The manifest is also written as `manifest.json` at the top of the output folder (paths
relative to it, no timestamp: byte-identical for the same seed), and read back with
`DemoManifest.load(out_dir)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True, slots=True)
class IngestStep:
    """One `hub ingest SOURCE PATH [--as-of DATE]` run."""

    source: str  # rectorat | absenteisme | mission-locale | cfa | cti
    path: str  # relative to the output folder; a folder of *.xml for rectorat
    as_of: date | None = None  # --as-of to pass; None: the source's default (SIECLE: DATE_EXPORT)
    description: str = ""

    def resolve(self, out_dir: Path) -> Path:
        return Path(out_dir) / self.path

    def argv(self, out_dir: Path) -> list[str]:
        """The `hub` arguments of this step (without the program name)."""
        args = ["ingest", self.source, str(self.resolve(out_dir))]
        if self.as_of is not None:
            args += ["--as-of", self.as_of.isoformat()]
        return args

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> IngestStep:
        as_of = doc.get("as_of")
        return cls(doc["source"], doc["path"], date.fromisoformat(as_of) if as_of else None, doc.get("description", ""))


@dataclass(frozen=True, slots=True)
class DemoManifest:
    """The generated data set: where it is, how to ingest it, what it holds.

    out_dir      the output folder (absolute)
    seed/people  the generator's parameters
    directory    the directory file the data was generated against (load it first)
    clock        the hub's clock once every step is ingested: min of the rectorat,
                 mission-locale and cfa watermarks (rules.md §3)
    steps        the ingest runs, in order
    files        every data file written, relative to out_dir, sorted
    scenarios    number of young people per scenario (see generate.py)
    invalid      number of records written invalid on purpose, per source
                 (each ends in that source's dead-letter topic)
    """

    out_dir: Path
    seed: int
    people: int
    directory: Path
    clock: date
    steps: tuple[IngestStep, ...]
    files: tuple[str, ...]
    scenarios: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)

    def commands(self) -> list[list[str]]:
        """The `hub` argument lists, one per step, in order."""
        return [step.argv(self.out_dir) for step in self.steps]

    def to_json(self) -> dict[str, Any]:
        """JSON form with paths relative to out_dir (the directory file as given)."""
        return {
            "seed": self.seed,
            "people": self.people,
            "directory": str(self.directory),
            "clock": self.clock.isoformat(),
            "steps": [s.to_json() for s in self.steps],
            "files": list(self.files),
            "scenarios": dict(sorted(self.scenarios.items())),
            "invalid": dict(sorted(self.invalid.items())),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def load(cls, out_dir: Path) -> DemoManifest:
        out_dir = Path(out_dir).resolve()
        doc = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        return cls(
            out_dir=out_dir,
            seed=doc["seed"],
            people=doc["people"],
            directory=Path(doc["directory"]),
            clock=date.fromisoformat(doc["clock"]),
            steps=tuple(IngestStep.from_json(s) for s in doc["steps"]),
            files=tuple(doc["files"]),
            scenarios=doc.get("scenarios", {}),
            invalid=doc.get("invalid", {}),
        )
