"""Reading `schemas/`: one `<name>.v<N>.avsc` file per published schema version.

Each file is self-contained (named types such as `fr.hub.Person` are defined inline in
every file that uses them), so a version can be parsed, fingerprinted and shipped alone.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro

from hub.errors import HubError
from hub.avro.fingerprint import SchemaParseError, canonical_form, crc64_avro, fingerprint_hex
from hub.avro.strict import schema_problems

FILE_RE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")
MAGIC = b"\xc3\x01"


def default_schema_dir() -> Path:
    """`HUB_SCHEMAS_DIR` when set, else the repository's `schemas/` next to the package."""
    env = os.environ.get("HUB_SCHEMAS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True, eq=False)
class SchemaVersion:
    """One published schema version, parsed once for the codec and the checks."""

    name: str  # file stem: "eleve_inscrit", "case"
    version: int
    schema: Any  # the JSON as written in the file (docs, defaults, logical types)
    canonical: str  # Parsing Canonical Form
    fingerprint: int  # CRC-64-AVRO of `canonical`, unsigned
    parsed: Any = field(repr=False)  # fastavro's parsed form (own named-type table)
    path: Path | None = None

    @property
    def fullname(self) -> str:
        """The record's full name, e.g. `fr.hub.events.EleveInscrit`."""
        s = self.schema
        name = s["name"]
        return name if "." in name or not s.get("namespace") else f"{s['namespace']}.{name}"

    @property
    def header(self) -> bytes:
        """C3 01 + the fingerprint little-endian: the 10 bytes opening each message."""
        return MAGIC + self.fingerprint.to_bytes(8, "little")

    @property
    def fingerprint_hex(self) -> str:
        """Hex of the 8 header bytes (little-endian), see fingerprint.fingerprint_hex."""
        return fingerprint_hex(self.fingerprint)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


class SchemaFileError(HubError, ValueError):
    """A schema file that cannot be used: bad name, not JSON, not a valid Avro schema."""


def make_version(name: str, version: int, schema: Any, path: Path | None = None) -> SchemaVersion:
    """Canonicalise and parse a schema; raises SchemaFileError with the reason."""
    where = path.name if path else f"{name} v{version}"
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise SchemaFileError(f"{where}: the top-level schema must be a record")
    try:
        canon = canonical_form(schema)
        # named_schemas={} so that each file has its own fr.hub.Person definition
        parsed = fastavro.parse_schema(schema, named_schemas={})
    except (SchemaParseError, fastavro.schema.SchemaParseException, ValueError, TypeError, KeyError) as e:
        raise SchemaFileError(f"{where}: invalid Avro schema: {e}") from e
    problems = schema_problems(schema)  # what fastavro lets pass and other implementations refuse
    if problems:
        raise SchemaFileError(f"{where}: invalid Avro schema: {'; '.join(problems)}")
    return SchemaVersion(name, version, schema, canon, crc64_avro(canon.encode()), parsed, path)


def load_file(path: Path) -> SchemaVersion:
    m = FILE_RE.match(path.name)
    if not m:
        raise SchemaFileError(f"{path.name}: file name must be <name>.v<N>.avsc (lower-case name)")
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise SchemaFileError(f"{path.name}: not readable JSON: {e}") from e
    return make_version(m["name"], int(m["version"]), schema, path)


def scan_dir(directory: Path | str) -> tuple[dict[str, list[SchemaVersion]], list[str]]:
    """Every version under `directory`, grouped by name and sorted by version, plus the
    problems found (unparseable files, gaps in versions, a renamed record, a
    fingerprint shared by two schema names). Lenient: `hub schemas check` reports everything."""
    directory = Path(directory)
    problems: list[str] = []
    groups: dict[str, list[SchemaVersion]] = {}
    if not directory.is_dir():
        return {}, [f"{directory}: not a directory"]
    paths = sorted(directory.glob("*.avsc"))
    if not paths:
        problems.append(f"{directory}: no *.avsc schema")
    for path in paths:
        try:
            sv = load_file(path)
        except SchemaFileError as e:
            problems.append(str(e))
            continue
        groups.setdefault(sv.name, []).append(sv)
    seen: dict[int, SchemaVersion] = {}
    for name, versions in sorted(groups.items()):
        versions.sort(key=lambda v: v.version)
        numbers = [v.version for v in versions]
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{name}: versions {numbers} are not 1..N: a published version was removed")
        names = {v.fullname for v in versions}
        if len(names) > 1:
            problems.append(f"{name}: record renamed across versions: {sorted(names)}")
        for v in versions:
            # Within one name an identical canonical form is legitimate (v2 may only add
            # a default so that v3 can drop the field); across names it is a mix-up.
            other = seen.setdefault(v.fingerprint, v)
            if other.name != v.name:
                problems.append(
                    f"{v.label}: same canonical form (fingerprint {v.fingerprint_hex}) as {other.label}"
                )
    return groups, problems


def load_dir(directory: Path | str | None = None) -> dict[str, list[SchemaVersion]]:
    """Strict load for the codec: any problem is a SchemaFileError."""
    groups, problems = scan_dir(directory or default_schema_dir())
    if problems:
        raise SchemaFileError("; ".join(problems))
    if not groups:
        raise SchemaFileError(f"no *.avsc schema under {directory or default_schema_dir()}")
    return groups
