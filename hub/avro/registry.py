"""Records for the compacted topic `hub.schemas.v1`: every schema version, by fingerprint.

A consumer in another institution that meets an unknown fingerprint in a single-object
message reads this topic (key = `message[2:10].hex()`: the 8 fingerprint bytes of the
header as they appear, little-endian — the hex that fastavro's `fingerprint()` and the
reference `avro` package print) and finds the writer schema. The value is UTF-8 JSON, deterministic (sorted keys) so that re-publishing
an unchanged schema rewrites identical bytes:

    {"name": "eleve_sorti", "version": 1, "fullname": "fr.hub.events.EleveSorti",
     "fingerprint": "9e73e0c0689f8f72", "canonical": "<Parsing Canonical Form>",
     "schema": {... the full .avsc JSON: defaults, docs, logical types ...}}

`schema` is the full JSON, not only the canonical form, because resolution needs the
defaults and logical types that canonical form strips; `canonical` lets a consumer check
the fingerprint itself. Compaction keeps one record per fingerprint; schemas are never
deleted (FULL_TRANSITIVE keeps every version readable).

Wiring (the Kafka side): produce each (key, value) of `schema_records()` to
`hub.schemas.v1` with key=key.encode(); idempotent, so safe at every `hub topics apply`.
"""

from __future__ import annotations

import json
from pathlib import Path

from hub.avro.loader import SchemaVersion, load_dir

TOPIC = "hub.schemas.v1"


def schema_record(v: SchemaVersion) -> tuple[str, bytes]:
    """The (key, value) of one version."""
    value = {
        "name": v.name,
        "version": v.version,
        "fullname": v.fullname,
        "fingerprint": v.fingerprint_hex,
        "canonical": v.canonical,
        "schema": v.schema,
    }
    return v.fingerprint_hex, json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def schema_records(schema_dir: Path | str | None = None) -> list[tuple[str, bytes]]:
    """Every version under `schema_dir` (default: the repo's schemas/), sorted by
    name then version. Identical canonical forms (a version that only added a default)
    share a key: the latest version's record is last, so compaction keeps it."""
    groups = load_dir(schema_dir)
    return [schema_record(v) for name in sorted(groups) for v in groups[name]]
