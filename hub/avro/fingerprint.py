"""Parsing Canonical Form (PCF) and CRC-64-AVRO fingerprints, per the Avro specification.

The single-object encoding header carries the fingerprint of the writer schema's PCF, so
these bytes must match what Java, C, Go and the reference Python `avro` compute. We
implement PCF ourselves over the parsed JSON instead of relying on
`fastavro.schema.to_parsing_canonical_form`: fastavro validates before canonicalising
and refuses some schemas the Java implementation accepts (e.g. the Apache vector with a
boolean field whose default is the string "true"). The transform below passes every
vector of `avro-schema-tests.txt` (see tests/avro/test_fingerprint.py).

Spec rules applied: [PRIMITIVES] `{"type":"int"}` → `"int"`; [FULLNAMES] names made
full, `namespace` dropped; [STRIP] only name/type/fields/symbols/items/values/size kept
(doc, aliases, default, order, logicalType… removed); [ORDER] those keys in that order;
[STRINGS] no escapes (UTF-8); [INTEGERS] no leading zeros; [WHITESPACE] none. A named
type already written once is written again as its quoted full name, as Java does.
"""

from __future__ import annotations

import json
from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})

EMPTY = 0xC15D213AA4D7A795
"""CRC-64-AVRO initial value (the spec's EMPTY), also the polynomial."""


def _make_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _make_table()


class SchemaParseError(ValueError):
    """A schema that cannot be canonicalised (bad JSON, unknown type or name)."""


def crc64_avro(data: bytes) -> int:
    """The 64-bit Rabin fingerprint of `data`, as an unsigned int (Avro spec algorithm)."""
    fp = EMPTY
    table = _TABLE
    for b in data:
        fp = (fp >> 8) ^ table[(fp ^ b) & 0xFF]
    return fp


def to_signed(fp: int) -> int:
    """Unsigned 64-bit → the signed long Java prints (as in the Apache vectors)."""
    return fp - (1 << 64) if fp & (1 << 63) else fp


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _split(fullname: str) -> str:
    """The namespace part of a full name ('' for the null namespace)."""
    return fullname.rpartition(".")[0]


def _fullname(name: Any, namespace: Any, enclosing: str) -> str:
    if not isinstance(name, str) or not name:
        raise SchemaParseError(f"named type without a valid name: {name!r}")
    if "." in name:
        return name
    ns = enclosing if namespace is None else namespace
    if not isinstance(ns, str):
        raise SchemaParseError(f"invalid namespace {ns!r} for {name!r}")
    return f"{ns}.{name}" if ns else name


class _Canon:
    def __init__(self) -> None:
        self.defined: set[str] = set()

    def ref(self, name: str, ns: str) -> str:
        # Java Names.get: the name in the enclosing namespace, else the null namespace.
        if "." not in name and ns and f"{ns}.{name}" in self.defined:
            return _q(f"{ns}.{name}")
        if name in self.defined:
            return _q(name)
        raise SchemaParseError(f"unknown type name {name!r}")

    def walk(self, s: Any, ns: str) -> str:
        if isinstance(s, str):
            return _q(s) if s in PRIMITIVES else self.ref(s, ns)
        if isinstance(s, list):
            return "[" + ",".join(self.walk(b, ns) for b in s) + "]"
        if not isinstance(s, dict) or "type" not in s:
            raise SchemaParseError(f"not a schema: {s!r}")
        t = s["type"]
        if isinstance(t, (dict, list)):  # {"type": {...}} wraps a schema
            return self.walk(t, ns)
        if t in PRIMITIVES:
            return _q(t)
        if t in ("record", "error", "enum", "fixed"):
            full = _fullname(s.get("name"), s.get("namespace"), ns)
            if full in self.defined:
                raise SchemaParseError(f"type {full!r} defined twice")
            self.defined.add(full)  # before the fields: records may be recursive
            head = '{"name":' + _q(full) + ',"type":'
            if t == "enum":
                syms = s.get("symbols")
                if not isinstance(syms, list):
                    raise SchemaParseError(f"enum {full!r} without symbols")
                return head + '"enum","symbols":[' + ",".join(_q(x) for x in syms) + "]}"
            if t == "fixed":
                size = s.get("size")
                if not isinstance(size, int) or isinstance(size, bool):
                    raise SchemaParseError(f"fixed {full!r} without an integer size")
                return head + '"fixed","size":' + str(size) + "}"
            fields = s.get("fields")
            if not isinstance(fields, list):
                raise SchemaParseError(f"record {full!r} without fields")
            inner = _split(full)
            out = []
            for f in fields:
                if not isinstance(f, dict) or not isinstance(f.get("name"), str) or "type" not in f:
                    raise SchemaParseError(f"bad field in {full!r}: {f!r}")
                out.append('{"name":' + _q(f["name"]) + ',"type":' + self.walk(f["type"], inner) + "}")
            return head + '"record","fields":[' + ",".join(out) + "]}"
        if t == "array":
            if "items" not in s:
                raise SchemaParseError("array without items")
            return '{"type":"array","items":' + self.walk(s["items"], ns) + "}"
        if t == "map":
            if "values" not in s:
                raise SchemaParseError("map without values")
            return '{"type":"map","values":' + self.walk(s["values"], ns) + "}"
        if isinstance(t, str):  # {"type": "some.Named"} references a named type
            return self.ref(t, ns)
        raise SchemaParseError(f"unknown type {t!r}")


def canonical_form(schema: Any) -> str:
    """The Parsing Canonical Form of a schema given as parsed JSON or as JSON text."""
    if isinstance(schema, bytes):
        schema = schema.decode("utf-8")
    if isinstance(schema, str) and schema not in PRIMITIVES:
        try:
            schema = json.loads(schema)
        except ValueError:
            raise SchemaParseError(f"not JSON: {schema[:60]!r}") from None
    return _Canon().walk(schema, "")


def fingerprint(schema: Any) -> int:
    """CRC-64-AVRO of the schema's PCF, unsigned 64-bit."""
    return crc64_avro(canonical_form(schema).encode("utf-8"))


def fingerprint_bytes(schema: Any) -> bytes:
    """The 8 little-endian bytes written after C3 01 in single-object encoding."""
    return fingerprint(schema).to_bytes(8, "little")


def fingerprint_hex(fp: int) -> str:
    """The hub's text form of a fingerprint: hex of the 8 little-endian header bytes.

    This is what `fastavro.schema.fingerprint(..., "CRC-64-AVRO")` and the reference
    `avro` package's `Schema.fingerprint().hex()` print, and `message[2:10].hex()` gives
    it straight from a message; it is NOT `f"{fp:016x}"` (byte-reversed)."""
    return fp.to_bytes(8, "little").hex()
