"""Published schema versions never change (interfaces.md: "every version ever published
stays there").

`schemas/published.json` records, per version once published, its wire fingerprint and a
digest of its whole JSON (defaults and docs included: canonical form strips defaults,
and a reader resolves with them). `hub schemas check` refuses a recorded version whose
file changed or went away; a version not recorded yet is new, and `hub schemas check
--freeze` records it. Compatibility alone cannot see a rewrite: a v1 edited in place is
compatible with nothing but itself, and there is nothing else to compare it with.

`conflicts_with_topic` is the same rule against `hub.schemas.v1`, for installations whose
broker saw a version this checkout never froze.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hub.avro.loader import SchemaVersion

FILE = "published.json"


def digest(schema: Any) -> str:
    """SHA-256 of the schema's JSON, keys sorted: insensitive to layout, not to content."""
    text = json.dumps(schema, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _key(v: SchemaVersion) -> str:
    return f"{v.name}.v{v.version}"


def read(directory: Path) -> dict[str, dict[str, str]] | None:
    """The recorded versions (`<name>.v<N>` → fingerprint, sha256), None without a file."""
    path = Path(directory) / FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["versions"]


def check(directory: Path, groups: dict[str, list[SchemaVersion]]) -> tuple[list[str], list[SchemaVersion]]:
    """(problems, versions not recorded yet) of `directory` against its `published.json`."""
    try:
        recorded = read(directory)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{FILE}: not readable: {exc}"], []
    versions = {_key(v): v for vs in groups.values() for v in vs}
    if recorded is None:
        return [], sorted(versions.values(), key=_key)
    problems = []
    for key, entry in sorted(recorded.items()):
        v = versions.get(key)
        if v is None:
            problems.append(f"{key}: published (in {FILE}) but its file is gone: a published version stays")
        elif digest(v.schema) != entry.get("sha256"):
            problems.append(
                f"{key}: differs from its published text (in {FILE}; fingerprint then "
                f"{entry.get('fingerprint')}, now {v.fingerprint_hex}): a published version never "
                f"changes, add {v.name}.v{max(x.version for x in groups[v.name]) + 1}.avsc instead"
            )
    return problems, sorted((v for k, v in versions.items() if k not in recorded), key=_key)


def freeze(directory: Path, new: Iterable[SchemaVersion]) -> None:
    """Record `new` in `directory`'s `published.json` (created when missing)."""
    recorded = read(directory) or {}
    for v in new:
        recorded[_key(v)] = {"fingerprint": v.fingerprint_hex, "sha256": digest(v.schema)}
    body = {
        "about": "Schema versions once published: hub schemas check refuses any change to them. "
                 "Written by `hub schemas check --freeze`.",
        "versions": dict(sorted(recorded.items())),
    }
    (Path(directory) / FILE).write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def conflicts_with_topic(groups: dict[str, list[SchemaVersion]], records: Iterable[bytes | None]) -> list[str]:
    """The versions of `groups` that `hub.schemas.v1` (its record values) holds with other
    content under the same name and version."""
    ours = {(v.name, v.version): v for vs in groups.values() for v in vs}
    problems = []
    for value in records:
        if value is None:
            continue
        try:
            theirs = json.loads(value)
            v = ours.get((theirs["name"], theirs["version"]))
            same = v is None or digest(v.schema) == digest(theirs["schema"])
        except (ValueError, KeyError, TypeError):
            continue  # not a record of ours: learn_from reports those
        if not same:
            problems.append(
                f"{v.name} v{v.version}: hub.schemas.v1 holds it with fingerprint {theirs.get('fingerprint')}, "
                f"schemas/ has it with {v.fingerprint_hex}: a published version never changes, add a new version"
            )
    return sorted(set(problems))
