"""Field validators shared by the connectors, the directory and the HTTP API (inputs.md).

Pure functions, no I/O. Each returns the normalised value or raises `FieldError` whose
`code` is the reject reason of inputs.md. Surrounding spaces are always trimmed, and an
empty value of a required field is `MISSING_FIELD` whatever the field: the common rules
say "required field empty → MISSING_FIELD", so that code wins over the field's own one.
A `detail` names the value and the reason ("UAI '0860099Z' invalide: lettre de contrôle
T attendue") so it can be shown as it is in a dead letter or an error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

BAD_DATE = "BAD_DATE"
BAD_UAI = "BAD_UAI"
BAD_COMMUNE = "BAD_COMMUNE"
BAD_SIRET = "BAD_SIRET"
BAD_VALUE = "BAD_VALUE"
MISSING_FIELD = "MISSING_FIELD"


class FieldError(ValueError):
    """A field that breaks its rule: `code` is the reject reason, `detail` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


# [0-9] rather than \d: \d also matches non-ASCII digits such as "٣".
_DATE_FR = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_DATE_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_UAI = re.compile(r"[0-9]{7}[A-Z]")
_UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # A–Z without I, O, Q: 23 letters
_COMMUNE = re.compile(r"[0-9][0-9AB][0-9]{3}")
_DEPARTEMENT = re.compile(r"[0-9]{2}|2[AB]|97[0-9]")
_SIRET = re.compile(r"[0-9]{14}")
_INT = re.compile(r"[0-9]+")
_SPACES = re.compile(r"\s+")


def _text(raw: object) -> str:
    """The raw value as trimmed text ('' for None)."""
    return "" if raw is None else str(raw).strip()


def require(raw: object) -> str:
    """The trimmed value; empty or None → MISSING_FIELD."""
    value = _text(raw)
    if not value:
        raise FieldError(MISSING_FIELD, "champ obligatoire vide")
    return value


# No fact of the hub lies outside these years: a date beyond them is a typing error, and
# one in year 9999 would otherwise become the default as-of of its file, then a watermark
# (and the hub's clock) that never moves back.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100


def parse_date(raw: object) -> date:
    """A real calendar date from `JJ/MM/AAAA` or `AAAA-MM-JJ` (BAD_DATE otherwise).

    A `date` already parsed (YAML turns 2026-02-03 into one) is returned as it is.
    """
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    value = require(raw)
    if m := _DATE_FR.fullmatch(value):
        day, month, year = m.groups()
    elif m := _DATE_ISO.fullmatch(value):
        year, month, day = m.groups()
    else:
        raise FieldError(BAD_DATE, f"date {value!r} invalide: JJ/MM/AAAA ou AAAA-MM-JJ attendu")
    try:
        parsed = date(int(year), int(month), int(day))
    except ValueError:  # 31/04, 29/02 of a common year, month 13, year 0000
        raise FieldError(BAD_DATE, f"date {value!r} invalide: pas une date du calendrier") from None
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise FieldError(BAD_DATE, f"date {value!r} invalide: année hors de {EARLIEST_YEAR}–{LATEST_YEAR}")
    return parsed


def check_uai(raw: object) -> str:
    """A UAI: 7 digits and the letter `int(digits) mod 23` picks in ABCDEFGHJKLMNPRSTUVWXYZ."""
    value = require(raw).upper()
    if not _UAI.fullmatch(value):
        raise FieldError(BAD_UAI, f"UAI {value!r} invalide: 7 chiffres et une lettre attendus")
    expected = uai_check_letter(value[:7])
    if value[7] != expected:
        raise FieldError(BAD_UAI, f"UAI {value!r} invalide: lettre de contrôle {expected} attendue")
    return value


def uai_check_letter(digits: str) -> str:
    """The check letter of the 7-digit part of a UAI."""
    return _UAI_LETTERS[int(digits) % 23]


def check_commune(raw: object, optional: bool = False) -> str | None:
    """A commune INSEE code `^[0-9][0-9AB][0-9]{3}$`, upper-cased (2a004 → 2A004).

    Empty gives None when the column is optional, MISSING_FIELD otherwise.
    """
    value = _text(raw).upper()
    if not value:
        if optional:
            return None
        raise FieldError(MISSING_FIELD, "commune obligatoire vide")
    if not _COMMUNE.fullmatch(value):
        raise FieldError(BAD_COMMUNE, f"commune {value!r} invalide: code INSEE à 5 caractères attendu")
    return value


def departement_of(commune: str) -> str:
    """The département of a commune: three characters for overseas 97x, else two (2A/2B).

    Raises BAD_COMMUNE (via check_commune) when `commune` is not a commune code.
    """
    code = check_commune(commune)
    assert code is not None  # not optional: empty raised above
    return code[:3] if code.startswith("97") else code[:2]


def check_departement(raw: object) -> str:
    """A département code as `departement_of` gives it: 2 digits, 2A, 2B, or 97x.

    "97" alone is refused: no commune has it as département (overseas use three digits).
    """
    value = require(raw).upper()
    if value == "97" or not _DEPARTEMENT.fullmatch(value):
        raise FieldError(BAD_VALUE, f"département {value!r} invalide: 2 chiffres, 2A, 2B ou 97x attendu")
    return value


def check_siret(raw: object) -> str:
    """A SIRET: 14 digits (spaces anywhere removed) passing the Luhn check."""
    value = _SPACES.sub("", require(raw))
    if not _SIRET.fullmatch(value):
        raise FieldError(BAD_SIRET, f"SIRET {value!r} invalide: 14 chiffres attendus")
    if not luhn_ok(value):
        raise FieldError(BAD_SIRET, f"SIRET {value!r} invalide: clé de Luhn fausse")
    return value


_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its two digits summed


def luhn_ok(digits: str) -> bool:
    """The Luhn key of a string of digits: from the right, every second digit doubled."""
    return (sum(map(int, digits[-1::-2])) + sum(_LUHN_DOUBLE[int(c)] for c in digits[-2::-2])) % 10 == 0


def check_enum(raw: object, allowed: Iterable[str], optional: bool = False) -> str | None:
    """One of `allowed`, compared case-insensitively; returns the canonical value.

    Empty gives None when optional, MISSING_FIELD otherwise; anything else is BAD_VALUE.
    """
    value = _text(raw)
    if not value:
        if optional:
            return None
        raise FieldError(MISSING_FIELD, "valeur obligatoire vide")
    choices = {a.upper(): a for a in allowed}
    try:
        return choices[value.upper()]
    except KeyError:
        raise FieldError(BAD_VALUE, f"valeur {value!r} invalide: {', '.join(choices.values())} attendu") from None


# The counts are Avro `int`s (32-bit): a larger value has no encoding any reader accepts.
INT_MAX = 2**31 - 1


def check_non_negative_int(raw: object) -> int:
    """An integer from 0 to INT_MAX written in plain digits (no sign, no decimals):
    BAD_VALUE otherwise."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 0 <= raw <= INT_MAX:
            raise FieldError(BAD_VALUE, f"nombre {raw} invalide: entier de 0 à {INT_MAX} attendu")
        return raw
    value = require(raw)
    if not _INT.fullmatch(value) or len(value.lstrip("0")) > 10 or int(value) > INT_MAX:
        raise FieldError(BAD_VALUE, f"nombre {value[:20]!r} invalide: entier de 0 à {INT_MAX} attendu")
    return int(value)


def check_month(raw: object) -> tuple[int, int]:
    """(year, month) from `AAAA-MM`, month 01–12 (BAD_VALUE otherwise)."""
    value = require(raw)
    m = _MONTH.fullmatch(value)
    if not m or not 1 <= int(m[2]) <= 12 or not EARLIEST_YEAR <= int(m[1]) <= LATEST_YEAR:
        raise FieldError(BAD_VALUE, f"mois {value!r} invalide: AAAA-MM attendu, année {EARLIEST_YEAR}–{LATEST_YEAR}")
    return int(m[1]), int(m[2])
