"""FULL_TRANSITIVE compatibility of schema versions, by the Avro "Schema Resolution" rules.

Every pair of versions (vi, vj), i ≠ j, must resolve with vi as writer and vj as reader:
a consumer on any version reads what a producer on any other version wrote. The rules
(Avro specification, Schema Resolution):

- primitives match when equal or promotable: int → long, float, double; long → float,
  double; float → double; string ↔ bytes;
- records, enums and fixed match by unqualified name, or by a reader alias of the
  writer's name; fixed sizes must be equal;
- record fields match by name or reader field alias; a reader field absent from the
  writer needs a default; a writer field absent from the reader is skipped;
- an enum symbol of the writer unknown to the reader needs a reader enum default;
- arrays and maps resolve their items / values;
- a writer union: every branch must resolve against the reader; a reader union: the
  writer (or each writer branch) must resolve against some branch.

One deliberate addition: a change of logicalType (date → plain int, date →
timestamp-millis…) is reported, because the bytes still resolve but the meaning does not.
Problems are human-readable and name the field path, e.g.
`case v2 → v1: field 'person.nom' has no default in reader`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path
from typing import Any

from hub.avro.fingerprint import PRIMITIVES, SchemaParseError
from hub.avro.loader import SchemaVersion, scan_dir

PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


@dataclass(eq=False)
class _Node:
    """A schema with names resolved: references point at the one defining node."""

    kind: str  # a primitive name, record, enum, fixed, array, map, union
    name: str = ""  # full name of a named type
    aliases: set[str] = field(default_factory=set)  # full names
    logical: str | None = None
    fields: list[tuple[str, set[str], _Node, bool]] = field(default_factory=list)  # name, aliases, type, has default
    symbols: list[str] = field(default_factory=list)
    has_default: bool = False  # enum default
    size: int = 0
    child: _Node | None = None  # array items, map values
    branches: list[_Node] = field(default_factory=list)

    def describe(self) -> str:
        if self.kind in PRIMITIVES:
            return f"{self.kind}({self.logical})" if self.logical else self.kind
        if self.kind == "union":
            return "[" + ", ".join(b.describe() for b in self.branches) + "]"
        if self.kind in ("array", "map"):
            assert self.child is not None
            return f"{self.kind}<{self.child.describe()}>"
        return f"{self.kind} {self.name}"

    @property
    def short(self) -> str:
        return self.name.rpartition(".")[2]


def _full(name: str, ns: str) -> str:
    return name if "." in name or not ns else f"{ns}.{name}"


def resolve_names(schema: Any) -> _Node:
    """Parsed JSON → _Node graph (recursive types become cycles)."""
    table: dict[str, _Node] = {}

    def walk(s: Any, ns: str) -> _Node:
        if isinstance(s, str):
            if s in PRIMITIVES:
                return _Node(s)
            for candidate in (_full(s, ns), s):
                if candidate in table:
                    return table[candidate]
            raise SchemaParseError(f"unknown type name {s!r}")
        if isinstance(s, list):
            return _Node("union", branches=[walk(b, ns) for b in s])
        if not isinstance(s, dict) or "type" not in s:
            raise SchemaParseError(f"not a schema: {s!r}")
        t = s["type"]
        if isinstance(t, (dict, list)):
            return walk(t, ns)
        if t in PRIMITIVES:
            return _Node(t, logical=s.get("logicalType"))
        if t in ("record", "error", "enum", "fixed"):
            explicit = s.get("namespace")
            full = _full(s["name"], ns if explicit is None else explicit)
            inner = full.rpartition(".")[0]
            node = _Node("record" if t == "error" else t, name=full)
            node.aliases = {_full(a, inner) for a in s.get("aliases", [])}
            table[full] = node
            if t == "enum":
                node.symbols = list(s.get("symbols", []))
                node.has_default = "default" in s
            elif t == "fixed":
                node.size = s.get("size", 0)
                node.logical = s.get("logicalType")
            else:
                node.fields = [
                    (f["name"], set(f.get("aliases", [])), walk(f["type"], inner), "default" in f)
                    for f in s.get("fields", [])
                ]
            return node
        if t == "array":
            return _Node("array", child=walk(s["items"], ns))
        if t == "map":
            return _Node("map", child=walk(s["values"], ns))
        return walk(t, ns)  # {"type": "Named"}

    return walk(schema, "")


def _names_match(w: _Node, r: _Node) -> bool:
    return w.short == r.short or w.name in r.aliases or w.short in {a.rpartition(".")[2] for a in r.aliases}


def _shallow(w: _Node, r: _Node) -> bool:
    """Whether the reader could pick this schema for the writer's (before recursing)."""
    if w.kind in PRIMITIVES:
        return r.kind == w.kind or r.kind in PROMOTIONS.get(w.kind, ())
    if w.kind != r.kind:
        return False
    if w.kind in ("record", "enum"):
        return _names_match(w, r)
    if w.kind == "fixed":
        return _names_match(w, r) and w.size == r.size
    return True  # array, map


def _where(path: str) -> str:
    return f"field '{path}'" if path else "the record"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self._seen: set[tuple[int, int]] = set()

    def check(self, w: _Node, r: _Node, path: str) -> None:
        if w.kind == "union":
            for b in w.branches:  # whichever branch was written must be readable
                self._against_reader(b, r, path, union_branch=True)
            return
        self._against_reader(w, r, path, union_branch=False)

    def _against_reader(self, w: _Node, r: _Node, path: str, *, union_branch: bool) -> None:
        if r.kind == "union":
            exact = [b for b in r.branches if b.kind == w.kind and _shallow(w, b)]
            promoted = [b for b in r.branches if _shallow(w, b)]
            target = (exact or promoted or [None])[0]
            if target is None:
                self.problems.append(
                    f"{_where(path)}: writer type {w.describe()} matches no branch of reader union {r.describe()}"
                )
                return
            r = target
        elif not _shallow(w, r):
            what = "writer union branch" if union_branch else "writer type"
            self.problems.append(f"{_where(path)}: {what} {w.describe()} cannot be read as {r.describe()}")
            return
        self._deep(w, r, path)

    def _deep(self, w: _Node, r: _Node, path: str) -> None:
        key = (id(w), id(r))
        if key in self._seen:  # recursive types: this pair is already being checked
            return
        self._seen.add(key)
        if w.kind in PRIMITIVES or w.kind == "fixed":
            if w.logical != r.logical:
                self.problems.append(
                    f"{_where(path)}: logical type changed from {w.logical or 'none'} to {r.logical or 'none'}"
                )
        elif w.kind == "enum":
            missing = [s for s in w.symbols if s not in r.symbols]
            if missing and not r.has_default:
                self.problems.append(
                    f"{_where(path)}: enum symbols {missing} of the writer unknown to the reader, which has no default"
                )
        elif w.kind in ("array", "map"):
            assert w.child is not None and r.child is not None
            self.check(w.child, r.child, path + ("[]" if w.kind == "array" else "{}"))
        elif w.kind == "record":
            by_name = {f[0]: f for f in w.fields}
            for rname, raliases, rtype, rdefault in r.fields:
                sub = f"{path}.{rname}" if path else rname
                wf = by_name.get(rname) or next((by_name[a] for a in raliases if a in by_name), None)
                if wf is None:
                    if not rdefault:
                        self.problems.append(f"field '{sub}' has no default in reader and is missing from writer")
                    continue
                self.check(wf[2], rtype, sub)


def check_pair(writer: Any, reader: Any) -> list[str]:
    """Problems reading data written with `writer` using `reader` (parsed JSON schemas or
    SchemaVersion); empty when the pair resolves."""
    w = writer.schema if isinstance(writer, SchemaVersion) else writer
    r = reader.schema if isinstance(reader, SchemaVersion) else reader
    checker = _Checker()
    checker.check(resolve_names(w), resolve_names(r), "")
    return checker.problems


def check_full_transitive(versions: Sequence[SchemaVersion]) -> list[str]:
    """Every ordered pair of distinct versions of one schema, both directions."""
    problems = []
    for w, r in permutations(sorted(versions, key=lambda v: v.version), 2):
        for p in check_pair(w, r):
            problems.append(f"{w.name} v{w.version} → v{r.version}: {p}")
    return problems


def check_dir(directory: Path | str) -> tuple[dict[str, list[SchemaVersion]], list[str]]:
    """Load `directory` and check it all: file problems, then FULL_TRANSITIVE per name."""
    groups, problems = scan_dir(directory)
    for _name, versions in sorted(groups.items()):
        problems.extend(check_full_transitive(versions))
    return groups, problems
