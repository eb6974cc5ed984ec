"""Who is who (rules.md §1): INE, name keys, person keys and deterministic ids."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date

# The three INE formats of inputs.md: RNIE, BEA, apprentice.
_INE_RE = re.compile(r"^(?:[0-9]{9}[A-Z]{2}|[0-9]{10}[A-Z]|[0-9]{4}A[0-9]{5}[A-Z])$")
# Hyphens, apostrophes and dots as keyboards and word processors write them: ASCII, the
# Unicode hyphens and dashes (U+2010–U+2015, minus U+2212, the soft hyphen U+00AD),
# typographic apostrophes (’ ‘), the modifier letters used for one (ʹ ʺ ʻ ʼ ʽ), the
# backtick and the prime; and whitespace.
_SEPARATORS = re.compile(r"[-'’‘`′.\u00ad\u02b9-\u02bd\u2010-\u2015\u2212\s]+")


def normalize_ine(raw: str | None) -> str | None:
    """The INE compared upper-case with spaces removed, or None when it is not valid."""
    if not raw:
        return None
    ine = re.sub(r"\s+", "", raw)
    if not ine.isascii():  # "ß".upper() is "SS": an INE is ASCII as written, or invalid
        return None
    ine = ine.upper()
    return ine if _INE_RE.match(ine) else None


def normalize_name_nfkd(raw: str) -> str:
    """rules.md §1 word for word: NFKD, accents removed, upper case, hyphens/apostrophes/
    dots → space, collapsed. `normalize_name` gives the same value, faster."""
    decomposed = unicodedata.normalize("NFKD", raw)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", stripped.upper()).strip()


class _FoldTable(dict):
    """str.translate table: a character → `upper(NFKD(c) without combining marks)`,
    computed once per character met."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFKD", chr(code))
        folded = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
        self[code] = folded
        return folded


_FOLD = _FoldTable()
_MEMO = 65536  # entries per memo below (cleared when full: a few MB at most)
_NAMES: dict[str, str] = {}  # raw name → normalised (first names repeat a lot)
_DIGESTS: dict[tuple, str] = {}  # (nom, prenom, date of birth, secret) → name key digest


def normalize_name(raw: str) -> str:
    """`normalize_name_nfkd`, same value, cheaper: NFKD decomposes each character on its
    own and only reorders combining marks, which are all removed, and upper case maps
    each character on its own too, so the first three steps are one per-character table
    (`_FOLD`); ASCII text needs only the upper case. Memoised."""
    name = _NAMES.get(raw)
    if name is None:
        folded = raw.upper() if raw.isascii() else raw.translate(_FOLD)
        name = _SEPARATORS.sub(" ", folded).strip()
        if len(_NAMES) >= _MEMO:
            _NAMES.clear()
        _NAMES[raw] = name
    return name


def name_key(nom: str, prenom: str, date_naissance: date) -> str:
    """The name key: family name + first given name + date of birth, normalised.

    `prenom` is the first given name (SIECLE keeps the others in PRENOM2, PRENOM3); it is
    not split on spaces, so that "Jean Pierre" typed without its hyphen still matches.
    """
    return f"{normalize_name(nom)}|{normalize_name(prenom)}|{date_naissance.isoformat()}"


def _digest(*parts: str, size: int = 16) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=size).hexdigest()


def name_digest(key: str, secret: str) -> str:
    """A stable pseudonym of a name key: the raw name never becomes a Kafka key."""
    return "n-" + hmac.digest(secret.encode(), key.encode(), "sha256").hex()[:32]


def name_key_digest(nom: str, prenom: str, date_naissance: date, secret: str) -> str:
    """`name_digest(name_key(...))`, memoised: one person's records ask for it again and
    again (validation, publishing, every event the worker handles)."""
    k = (nom, prenom, date_naissance, secret)
    digest = _DIGESTS.get(k)
    if digest is None:
        digest = name_digest(name_key(nom, prenom, date_naissance), secret)
        if len(_DIGESTS) >= _MEMO:
            _DIGESTS.clear()
        _DIGESTS[k] = digest
    return digest


def person_key(ine: str | None, nom: str, prenom: str, date_naissance: date, secret: str) -> str:
    """The INE when known, otherwise the pseudonymous digest of the name key."""
    if ine:
        return ine
    return name_key_digest(nom, prenom, date_naissance, secret)


def event_id(source: str, *natural_key: str) -> str:
    """Same record, same fact → same id, whatever the file name or the run."""
    return "e-" + _digest(source, *natural_key)


def case_id(person: str, case_type: str, opened_on: date) -> str:
    return "c-" + _digest(person, case_type, opened_on.isoformat(), size=12)
