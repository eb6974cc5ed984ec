"""The directory in memory (O(1) look-ups) and as entries of the compacted topic.

`hub.directory.v1` holds one record per entry, keyed "<kind>:<code>", plus a
"meta:version" record listing every key of the current version and its content hash.
Compaction keeps the latest value per key but never forgets a key nobody tombstoned, so
a reader trusts only the keys that meta:version lists, and the hash tells it whether
what it read is one whole version (a reader that catches a load half-published sees a
mismatch and waits for the rest).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from hub.directory.load import DirectoryError, parse_directory
from hub.directory.model import SECTIONS, DirectoryData
from hub.types.directory import Cti, Etablissement
from hub.validation import FieldError, departement_of

TOPIC = "hub.directory.v1"
META_KEY = "meta:version"
# Entry kind in the topic key ↔ section of the file, and the field that names the entry.
KINDS = {
    "observatoire": ("observatoires", "code"),
    "mission_locale": ("missions_locales", "code"),
    "cti": ("ctis", "code"),
    "etablissement": ("etablissements", "uai"),
}


class DirectoryIndex:
    """The `hub.types.directory.Directory` protocol over checked `DirectoryData`."""

    def __init__(self, data: DirectoryData) -> None:
        self.data = data
        self.version = content_hash(_data_entries(data))
        self._obs_by_dep = {d: o.code for o in data.observatoires for d in o.departements}
        self._ml_by_commune = {c: ml.code for ml in data.missions_locales for c in ml.communes}
        self._obs_of_ml = {ml.code: ml.observatoire for ml in data.missions_locales}
        self._ctis = {c.code: Cti(c.code, c.type, c.nom) for c in data.ctis}
        self._etabs = {e.uai: Etablissement(e.uai, e.nom, e.type, e.commune, e.cti) for e in data.etablissements}

    @property
    def observatoires(self) -> tuple[str, ...]:
        """Every observatory code, in file order (one case topic each)."""
        return tuple(o.code for o in self.data.observatoires)

    def observatoire_for_commune(self, commune: str) -> str | None:
        try:
            return self._obs_by_dep.get(departement_of(commune))
        except FieldError:  # not a commune code: nobody covers it
            return None

    def mission_locale_for_commune(self, commune: str) -> str | None:
        return self._ml_by_commune.get(_norm(commune))

    def etablissement(self, uai: str) -> Etablissement | None:
        return self._etabs.get(_norm(uai))

    def cti(self, code: str) -> Cti | None:
        return self._ctis.get(code)

    def has_mission_locale(self, code: str) -> bool:
        return code in self._obs_of_ml

    def observatoire_of_mission_locale(self, code: str) -> str | None:
        return self._obs_of_ml.get(code)


def _norm(code: str | None) -> str:
    # Communes and UAIs are stored upper-case (2A004, 0350760L); accept what a record has.
    return (code or "").strip().upper()


def _data_entries(data: DirectoryData) -> list[tuple[str, dict]]:
    return [
        (f"{kind}:{getattr(entry, name)}", entry.model_dump(mode="json"))
        for kind, (section, name) in KINDS.items()
        for entry in getattr(data, section)
    ]


def content_hash(entries: Iterable[tuple[str, dict]]) -> str:
    """sha256 of the entries in key order: the same content in another order, same hash."""
    canonical = json.dumps(sorted(entries, key=lambda e: e[0]), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def to_entries(data: DirectoryData) -> list[tuple[str, dict]]:
    """The directory as (key, JSON-able value) records; meta:version comes last."""
    entries = _data_entries(data)
    meta = {"hash": content_hash(entries), "keys": [key for key, _ in entries]}
    return [*entries, (META_KEY, meta)]


def from_entries(entries: Iterable[tuple[str, dict | None]]) -> DirectoryIndex:
    """Rebuild the index from the topic's records, read in offset order.

    A later record for a key replaces an earlier one and a None value (tombstone) deletes
    it. Keys not listed in meta:version are left-overs of older versions and ignored.
    Raises DirectoryError when no version is complete (no meta, a listed key missing,
    or content that does not match the hash).
    """
    latest: dict[str, dict] = {}
    for key, value in entries:
        if value is None:
            latest.pop(key, None)
        else:
            latest[key] = value
    meta = latest.get(META_KEY)
    if not isinstance(meta, dict) or not isinstance(meta.get("keys"), list):
        raise DirectoryError(f"{TOPIC}: aucune version (entrée {META_KEY} absente ou illisible)")
    missing = [k for k in meta["keys"] if k not in latest]
    if missing:
        raise DirectoryError(f"{TOPIC}: version incomplète, entrées absentes: {', '.join(missing)}")

    doc: dict[str, list[dict]] = {s: [] for s in SECTIONS}
    for key in meta["keys"]:
        kind = key.partition(":")[0]
        if kind not in KINDS:
            raise DirectoryError(f"{TOPIC}: entrée {key} d'un type inconnu")
        doc[KINDS[kind][0]].append(latest[key])
    data = parse_directory(doc, TOPIC)
    index = DirectoryIndex(data)
    if index.version != meta["hash"]:
        raise DirectoryError(f"{TOPIC}: le contenu ne correspond pas à l'empreinte de meta:version")
    return index
