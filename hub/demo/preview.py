"""What the hub should make of a demo data set — without Kafka.

    from hub.demo.generate import generate
    from hub.demo.preview import preview
    result = preview(generate(out_dir))          # or preview(DemoManifest.load(out_dir))
    print(result.table())
    result.topic_counts()[("OBS-86", "RUPTURE", "TRANSFERE")]

1. Every step of the manifest goes through the **real connectors** (`run_ingest`, with
   the in-memory sink, seen-events and snapshot store of `connectors.core.memory`) and
   the real directory (`load_directory` + `DirectoryIndex`), in the manifest's order:
   the ingest counts, the dead letters and the watermarks are the ones `hub ingest`
   would print and publish.
2. The events are grouped per person as rules.md §1 says: an event with an INE belongs to
   that INE; an INE-less event whose name key (`hub.identity.name_key`) was shown by
   exactly one INE (on any of its events) is linked to it; by two or more INEs it is in
   dispute (*litige*: counted, part of no case); by none, it is a person of its own, keyed
   by the name key's pseudonymous digest (the connectors' person key). The worker does
   the same incrementally (REGISTER/ASSIGN, `hub.worker.core`); here it is done once
   over the whole set.
3. The clock is the minimum of the rectorat, mission-locale and cfa watermarks; each
   person's events go to `hub.rules.evaluate` with that clock, the real directory and
   the rules configuration of the settings.

Two views of the result:

- `counts()` — one per case, as `cases.v1` (and `hub cases`) hold them:
  (type, status, observatoire);
- `topic_counts()` — what the observatories' topics hold: each case at its current
  observatory, plus one `TRANSFERE` record at every observatory it was transferred
  from (the rule of `hub.worker.records.holders`): (observatoire, type, status).

`python -m hub.demo.preview OUT_DIR [--json]` prints them for an already generated folder.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hub.demo.manifest import DemoManifest
from hub.directory import DirectoryIndex, load_directory
from hub.identity import name_digest, name_key
from hub.rules import evaluate
from hub.settings import Settings, get_settings
from hub.types.cases import CASE_TYPES, HORS_TERRITOIRE, STATUSES, TRANSFERE
from hub.types.events import CLOCK_SOURCES

from connectors import get_connector, run_ingest
from connectors.core.memory import MemorySeenEvents, MemorySink, MemorySnapshotStore


@dataclass(slots=True)
class Preview:
    clock: date | None
    observatoires: tuple[str, ...]  # the directory's, in file order
    ingests: list[dict[str, Any]] = field(default_factory=list)  # per step: IngestResult.to_json() + path
    dead_letters: Counter = field(default_factory=Counter)  # (source, reason) → records
    watermarks: dict[str, date] = field(default_factory=dict)
    events: int = 0
    persons: int = 0  # persons evaluated (INEs + name keys of their own)
    linked: int = 0  # INE-less events linked to an INE by their name key
    litiges: int = 0  # INE-less events in dispute (name key shown by ≥ 2 INEs)
    litige_keys: int = 0  # distinct name keys in dispute
    cases: list[dict[str, Any]] = field(default_factory=list)

    # -- views ------------------------------------------------------------------------

    def counts(self) -> Counter:
        """(type, status, observatoire) → cases, one per case (cases.v1)."""
        return Counter((c["type"], c["status"], c["observatoire"]) for c in self.cases)

    def topic_counts(self) -> Counter:
        """(observatoire, type, status) → records on the observatories' topics, TRANSFERE included."""
        out: Counter = Counter()
        for c in self.cases:
            current = c["observatoire"]
            out[(current, c["type"], c["status"])] += 1
            seen = {current}
            for t in c.get("transfers") or ():
                source = t["from_observatoire"]
                if source not in seen:
                    seen.add(source)
                    out[(source, c["type"], TRANSFERE)] += 1
        return out

    def outcomes(self) -> Counter:
        """(type, status, outcome) → cases."""
        return Counter((c["type"], c["status"], c["outcome"]) for c in self.cases)

    def statuses(self) -> Counter:
        """status → records over every observatory topic (TRANSFERE included)."""
        out: Counter = Counter()
        for (_, _, status), n in self.topic_counts().items():
            out[status] += n
        return out

    def types(self) -> Counter:
        return Counter(c["type"] for c in self.cases)

    def assigned(self) -> Counter:
        """(type, role) → cases."""
        return Counter((c["type"], c["assigned_to"]["role"]) for c in self.cases)

    def periode_essai(self) -> Counter:
        return Counter(c["periode_essai"] for c in self.cases if c["type"] == "RUPTURE")

    # -- output -----------------------------------------------------------------------

    def columns(self) -> list[str]:
        seen = {obs for obs, _, _ in self.topic_counts()}
        cols = list(self.observatoires)
        if HORS_TERRITOIRE in seen:
            cols.append(HORS_TERRITOIRE)
        cols += sorted(seen - set(cols))
        return cols

    def table(self) -> str:
        """Observatory topic records by type × status (columns: observatories)."""
        topic = self.topic_counts()
        cols = self.columns()
        width = max(len(c) for c in cols) + 1
        head = f"{'type':<21}{'statut':<10}" + "".join(f"{c:>{width}}" for c in cols) + f"{'total':>7}"
        lines = [head, "-" * len(head)]
        for t in CASE_TYPES:
            for s in STATUSES:
                row = [topic.get((c, t, s), 0) for c in cols]
                if sum(row):
                    lines.append(f"{t:<21}{s:<10}" + "".join(f"{n:>{width}}" for n in row) + f"{sum(row):>7}")
        totals = [sum(n for (o, _, _), n in topic.items() if o == c) for c in cols]
        lines.append("-" * len(head))
        lines.append(f"{'total':<31}" + "".join(f"{n:>{width}}" for n in totals) + f"{sum(totals):>7}")
        return "\n".join(lines)

    def summary(self) -> str:
        parts = [f"horloge : {self.clock.isoformat() if self.clock else 'aucune'}"]
        for r in self.ingests:
            parts.append(
                f"{r['source']:<15} {r['path']:<48} lus {r['read']:>5}  publiés {r['published']:>5}  "
                f"inchangés {r['unchanged']:>4}  filtrés {r['filtered']:>4}  rejetés {r['rejected']:>3}  "
                f"avert. {r['warnings']:>2}  événements {r['events']:>5}  arrêté {r['as_of']}"
            )
        dl = ", ".join(f"{s}/{r}: {n}" for (s, r), n in sorted(self.dead_letters.items()))
        parts.append(f"lettres mortes : {dl}")
        parts.append(
            f"événements {self.events}, personnes {self.persons}, liés par clé de nom {self.linked}, "
            f"en litige {self.litiges} ({self.litige_keys} clés)"
        )
        parts.append(f"dossiers (cases.v1) : {len(self.cases)} — " + ", ".join(
            f"{t} {n}" for t, n in sorted(self.types().items())))
        parts.append(self.table())
        outcome = ", ".join(f"{t}/{s}/{o}: {n}" for (t, s, o), n in sorted(self.outcomes().items(), key=str))
        parts.append(f"issues : {outcome}")
        return "\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        nested: dict[str, dict[str, dict[str, int]]] = {}
        for (obs, t, s), n in sorted(self.topic_counts().items()):
            nested.setdefault(t, {}).setdefault(s, {})[obs] = n
        return {
            "clock": self.clock.isoformat() if self.clock else None,
            "ingests": self.ingests,
            "dead_letters": {f"{s}/{r}": n for (s, r), n in sorted(self.dead_letters.items())},
            "events": self.events,
            "persons": self.persons,
            "linked": self.linked,
            "litiges": self.litiges,
            "cases": len(self.cases),
            "by_type_status_observatoire": {
                f"{t}/{s}/{o}": n for (t, s, o), n in sorted(self.counts().items())
            },
            "observatory_topics": nested,
            "outcomes": {f"{t}/{s}/{o}": n for (t, s, o), n in sorted(self.outcomes().items(), key=str)},
        }


def group_events(events: Iterable[dict], secret: str) -> tuple[dict[str, list[dict]], int, int, int]:
    """Per person key, the events (rules.md §1); and (linked, litige events, litige keys)."""
    owners: dict[str, set[str]] = {}
    by_person: dict[str, list[dict]] = {}
    nameless: list[tuple[str, dict]] = []
    for ev in events:
        p = ev["person"]
        key = name_key(p["nom"], p["prenom"], p["date_naissance"])
        ine = p.get("ine")
        if ine:
            by_person.setdefault(ine, []).append(ev)
            owners.setdefault(key, set()).add(ine)
        else:
            nameless.append((key, ev))
    linked = litiges = 0
    disputed: set[str] = set()
    for key, ev in nameless:
        ines = owners.get(key)
        if not ines:
            by_person.setdefault(name_digest(key, secret), []).append(ev)
        elif len(ines) == 1:
            (ine,) = ines
            by_person[ine].append(ev)
            linked += 1
        else:
            litiges += 1
            disputed.add(key)
    return by_person, linked, litiges, len(disputed)


async def preview_async(
    manifest: DemoManifest,
    *,
    settings: Settings | None = None,
    directory: DirectoryIndex | None = None,
    clock: date | None = None,
) -> Preview:
    """Ingest the manifest's files in memory and evaluate every person (see the module doc).

    `clock` overrides the one the watermarks give (e.g. to look at an earlier date).
    """
    settings = settings or get_settings()
    directory = directory or DirectoryIndex(load_directory(manifest.directory))
    sink, seen, snapshots = MemorySink(), MemorySeenEvents(), MemorySnapshotStore()
    result = Preview(clock=None, observatoires=tuple(directory.observatoires))
    for step in manifest.steps:
        ingest = await run_ingest(
            get_connector(step.source),
            step.resolve(manifest.out_dir),
            sink=sink,
            seen=seen,
            snapshots=snapshots,
            directory=directory,
            as_of=step.as_of,
            settings=settings,
        )
        result.ingests.append({**ingest.to_json(), "path": step.path})
    for _, record in sink.dead_letters:
        result.dead_letters[(record["source"], record["reason"])] += 1
    result.watermarks = dict(sink.watermarks)
    if clock is None and all(s in sink.watermarks for s in CLOCK_SOURCES):
        clock = min(sink.watermarks[s] for s in CLOCK_SOURCES)
    result.clock = clock

    events = sink.events
    result.events = len(events)
    by_person, result.linked, result.litiges, result.litige_keys = group_events(events, settings.pseudonym_secret)
    result.persons = len(by_person)
    cases: list[dict] = []
    for key in sorted(by_person):
        cases.extend(evaluate(key, by_person[key], clock, directory, settings.rules).cases)
    result.cases = cases
    return result


def preview(manifest: DemoManifest, **kwargs: Any) -> Preview:
    """`preview_async` from synchronous code (not inside a running event loop)."""
    return asyncio.run(preview_async(manifest, **kwargs))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if len(args) != 1:
        print("usage: python -m hub.demo.preview OUT_DIR [--json]", file=sys.stderr)
        return 2
    result = preview(DemoManifest.load(Path(args[0])))
    print(json.dumps(result.to_json(), ensure_ascii=False, indent=2) if as_json else result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
