"""The rules of the Avro specification a schema must meet to be parsed by every
implementation, which fastavro's own parser lets pass (a black-box audit found each of
them accepted by `hub schemas check` and refused by the Apache `avro` library).

- Names ("Names" in the specification): the name part of a record, enum or fixed, every
  field name and every enum symbol match `[A-Za-z_][A-Za-z0-9_]*`; a namespace is such
  names joined by dots. A full name is defined once; a record's field names, an enum's
  symbols are unique.
- Unions: no union directly inside a union, no two branches of the same type (two
  primitives alike, two arrays, two maps, or one named type twice).
- Defaults ("Complex Types", field `default`): the JSON value must be one of the field's
  type: `null` for null, a boolean, an int in 32 bits, a long in 64 bits, a number for
  float and double, a string of code points 0–255 for bytes (and of exactly `size` for
  fixed), a string for string, a symbol for an enum (also an enum's own `default`), a
  list / object of valid values for an array / map, an object giving each field a valid
  value (or leaving out a field that has a default of its own) for a record. For a
  union, a value of one of its branches (Avro 1.12, AVRO-3649; Java's validation has
  always accepted any branch).

A default that is not of its type would only fail when a reader needs it, that is when
it reads data written with an older version: the one moment `hub schemas check` is for.
"""

from __future__ import annotations

import re
from typing import Any

from hub.avro.fingerprint import PRIMITIVES

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
NAMED = ("record", "error", "enum", "fixed")
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def schema_problems(schema: Any) -> list[str]:
    """Every rule above that `schema` (parsed JSON) breaks, each naming where."""
    return _Walk().run(schema)


class _Walk:
    def __init__(self) -> None:
        self.named: dict[str, dict] = {}
        self.problems: list[str] = []

    def run(self, schema: Any) -> list[str]:
        self.schema(schema, "", "")
        return self.problems

    # -- types ------------------------------------------------------------------------

    def schema(self, s: Any, ns: str, path: str) -> None:
        if isinstance(s, list):
            self.union(s, ns, path)
        elif isinstance(s, dict):
            t = s.get("type")
            if t in NAMED:
                self.named_type(s, ns, path)
            elif t == "array":
                self.schema(s.get("items"), ns, f"{path}[]")
            elif t == "map":
                self.schema(s.get("values"), ns, f"{path}{{}}")
            elif not (isinstance(t, str) and t in PRIMITIVES):
                self.schema(t, ns, path)  # {"type": <a schema>}
        elif isinstance(s, str) and s not in PRIMITIVES and self.lookup(s, ns) is None:
            self.problem(path, f"unknown type {s!r}")

    def named_type(self, s: dict, ns: str, path: str) -> None:
        full = self.fullname(s, ns, path)
        if full is None:
            return
        if full in self.named:
            self.problem(path, f"{full} is defined twice")
        self.named[full] = s
        inner = full.rpartition(".")[0]
        kind = s["type"]
        if kind == "enum":
            symbols = s.get("symbols")
            if not isinstance(symbols, list):
                self.problem(path, f"enum {full} has no list of symbols")
                return
            for symbol in symbols:
                if not (isinstance(symbol, str) and NAME.match(symbol)):
                    self.problem(path, f"enum {full}: {symbol!r} is not a valid symbol")
            if len(set(map(str, symbols))) != len(symbols):
                self.problem(path, f"enum {full} repeats a symbol")
            if "default" in s and s["default"] not in symbols:
                self.problem(path, f"enum {full}: default {s['default']!r} is not one of its symbols")
        elif kind == "fixed":
            size = s.get("size")
            if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
                self.problem(path, f"fixed {full}: size {size!r} is not a non-negative integer")
        else:
            fields = s.get("fields")
            if not isinstance(fields, list):
                self.problem(path, f"record {full} has no list of fields")
                return
            seen: set[str] = set()
            for f in fields:
                name = f.get("name") if isinstance(f, dict) else None
                where = f"{path}.{name}" if path else str(name)
                if not (isinstance(name, str) and NAME.match(name)):
                    self.problem(path or full, f"{name!r} is not a valid field name")
                    continue
                if name in seen:
                    self.problem(where, f"field {name!r} appears twice in {full}")
                seen.add(name)
                self.schema(f.get("type"), inner, where)
                if "default" in f and not self.valid(f.get("type"), f["default"], inner):
                    self.problem(where, f"default {f['default']!r} is not a value of the field's type")

    def union(self, branches: list, ns: str, path: str) -> None:
        kinds: set[str] = set()
        for b in branches:
            if isinstance(b, list):
                self.problem(path, "a union directly inside a union")
                continue
            kind = self.branch_kind(b, ns)
            if kind in kinds:
                self.problem(path, f"the union has two {kind} branches")
            kinds.add(kind)
            self.schema(b, ns, path)

    def branch_kind(self, b: Any, ns: str) -> str:
        if isinstance(b, dict):
            t = b.get("type")
            if t in NAMED:
                return self.fullname(b, ns, None) or "?"
            if isinstance(t, str) and t in PRIMITIVES | {"array", "map"}:
                return t
            return self.branch_kind(t, ns)
        if isinstance(b, str):
            if b in PRIMITIVES:
                return b
            target = self.lookup(b, ns)
            return self.fullname(target, ns, None) if target else b
        return repr(b)

    # -- names ------------------------------------------------------------------------

    def fullname(self, s: dict, ns: str, path: str | None) -> str | None:
        name = s.get("name")
        if not isinstance(name, str) or not name:
            if path is not None:
                self.problem(path, f"a {s.get('type')} without a name")
            return None
        if "." in name:
            full = name
        else:
            space = s.get("namespace", ns)
            full = f"{space}.{name}" if space else name
            if path is not None and not isinstance(space, str):
                self.problem(path, f"namespace {space!r} is not a string")
                return None
        if path is not None and not all(NAME.match(part) for part in full.split(".")):
            self.problem(path, f"{full!r} is not a valid name (parts [A-Za-z_][A-Za-z0-9_]*)")
        return full

    def lookup(self, name: str, ns: str) -> dict | None:
        if "." not in name and ns and f"{ns}.{name}" in self.named:
            return self.named[f"{ns}.{name}"]
        return self.named.get(name)

    # -- defaults ---------------------------------------------------------------------

    def valid(self, s: Any, v: Any, ns: str) -> bool:
        if isinstance(s, list):
            return any(self.valid(b, v, ns) for b in s)
        if isinstance(s, str):
            if s not in PRIMITIVES:
                target = self.lookup(s, ns)
                return target is not None and self.valid(target, v, ns)
            return _primitive(s, v)
        if not isinstance(s, dict):
            return False
        t = s.get("type")
        if t in NAMED:
            full = self.fullname(s, ns, None) or ""
            inner = full.rpartition(".")[0]
            if t == "enum":
                return isinstance(v, str) and v in (s.get("symbols") or ())
            if t == "fixed":
                return _bytes_string(v) and len(v) == s.get("size")
            if not isinstance(v, dict):
                return False
            return all(
                self.valid(f.get("type"), v[f["name"]], inner) if f["name"] in v else "default" in f
                for f in s.get("fields") or ()
                if isinstance(f, dict) and isinstance(f.get("name"), str)
            )
        if t == "array":
            return isinstance(v, list) and all(self.valid(s.get("items"), x, ns) for x in v)
        if t == "map":
            return isinstance(v, dict) and all(self.valid(s.get("values"), x, ns) for x in v.values())
        return self.valid(t, v, ns)

    def problem(self, path: str, text: str) -> None:
        self.problems.append(f"{path}: {text}" if path else text)


def _primitive(t: str, v: Any) -> bool:
    integer = isinstance(v, int) and not isinstance(v, bool)
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "int":
        return integer and INT32[0] <= v <= INT32[1]
    if t == "long":
        return integer and INT64[0] <= v <= INT64[1]
    if t in ("float", "double"):
        return integer or isinstance(v, float)
    if t == "bytes":
        return _bytes_string(v)
    return isinstance(v, str)  # string


def _bytes_string(v: Any) -> bool:
    """Bytes and fixed defaults are JSON strings of code points 0–255."""
    return isinstance(v, str) and all(ord(c) < 256 for c in v)
