"""Helpers for the per-source `validate` functions: collect field errors, build events.

The field rules themselves are hub.validation's (shared with the directory and HTTP);
this module only tags each error with its field, builds the person and the envelope.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from hub.identity import normalize_ine, normalize_name
from hub.validation import (
    BAD_VALUE,
    EARLIEST_YEAR,
    LATEST_YEAR,
    MISSING_FIELD,
    FieldError,
    check_commune,
    check_enum,
    check_month,
    check_non_negative_int,
    check_siret,
    check_uai,
    luhn_ok,
    parse_date,
    require,
)

from connectors.core.types import Context, Event, Rejected, Rejection

T = TypeVar("T")

# Hot path: the typed readers of `Fields` (`uai`, `date`, ...) accept the common, already
# clean value with plain string tests, and hand anything else to the hub.validation
# function of the field, which normalises it or raises the FieldError of inputs.md. Same
# results either way; the fast path only skips regexes and calls.
_UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_COMMUNE_2ND = frozenset("0123456789AB")
_GOOD_SIRETS: set[str] = set()  # SIRETs already found valid (employers repeat)
_CLEAN_KEYS: set[tuple] = set()  # key tuples already known lower-case and trimmed
# No field of inputs.md is longer (a name, a reference, a motif): a longer value is an
# error, refused before it makes an event or a dead letter Kafka cannot hold (1 MB).
MAX_FIELD_CHARS = 2000


def _clean_keys(row: Mapping[str, Any]) -> bool:
    keys = tuple(row)
    if keys in _CLEAN_KEYS:
        return True
    if all(isinstance(k, str) and k == k.strip().lower() for k in keys):
        if len(_CLEAN_KEYS) < 256:
            _CLEAN_KEYS.add(keys)
        return True
    return False


REPEATED = "champ donné deux fois (les noms de champ ignorent la casse)"


def lowered(row: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`row` keyed by trimmed lower-case names, and the names given twice that way: a
    record that says `cti` and `CTI` is ambiguous (and would let a token bound to one
    code check one and publish the other), as a CSV header naming a column twice."""
    out: dict[str, Any] = {}
    repeated: list[str] = []
    for k, v in row.items():
        name = str(k).strip().lower()
        if name in out and name not in repeated:
            repeated.append(name)
        out[name] = v
    return out, repeated


class Fields:
    """One record's fields, read and checked one by one; every error is collected.

    `row` is a mapping of field name → value. With `lower=True` (CSV and HTTP rows) the
    names are compared case-insensitively. A missing key reads as empty. A check that
    fails records a Rejection tagged with the field and returns None, so that a
    validate function finds every problem of a record in one go (HTTP 422 lists them).
    """

    __slots__ = ("errors", "row", "warnings")

    def __init__(self, row: Mapping[str, Any], *, lower: bool = True, repeated: Iterable[str] = ()) -> None:
        self.errors: list[Rejection] = []
        self.warnings = 0
        if lower and not _clean_keys(row):
            row, repeated = lowered(row)
        for name in repeated:
            self.errors.append(Rejection(BAD_VALUE, REPEATED, name))
        self.row = row
        for name, value in row.items():
            if value.__class__ is str and len(value) > MAX_FIELD_CHARS:
                self.errors.append(Rejection(
                    BAD_VALUE, f"valeur de {len(value)} caractères, {MAX_FIELD_CHARS} au plus", str(name)))

    def raw(self, name: str) -> Any:
        value = self.row.get(name)
        if isinstance(value, (dict, list, tuple, set)):
            raise FieldError(BAD_VALUE, "valeur non scalaire")
        if isinstance(value, bool):  # JSON true/false: no field of inputs.md is one ("True", 1)
            raise FieldError(BAD_VALUE, "valeur booléenne (true/false) : du texte est attendu")
        return value

    def text(self, name: str) -> str:
        """The trimmed text of a field ('' when absent or empty)."""
        value = self.row.get(name)
        if value.__class__ is str:
            return value.strip()
        try:
            value = self.raw(name)
        except FieldError as e:
            self.fail(name, e)
            return ""
        return "" if value is None else str(value).strip()

    def check(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """`fn(value, *args, **kwargs)`; a FieldError is recorded and gives None."""
        try:
            return fn(self.raw(name), *args, **kwargs)
        except FieldError as e:
            self.fail(name, e)
            return None

    # -- typed readers: fast path for clean text, else the hub.validation function ---------

    def required(self, name: str) -> str | None:
        """Trimmed non-empty text (MISSING_FIELD otherwise)."""
        value = self.row.get(name)
        if value.__class__ is str:
            value = value.strip()
            if value:
                return value
        return self.check(name, require)

    def name(self, name: str, value: str | None = None) -> str | None:
        """A person's name (`required`, or `value` already read): it must keep a letter
        or a digit once normalised (rules.md §1), else two different people could share
        a name key ("-", "'", a zero-width space…): BAD_VALUE."""
        if value is None:
            value = self.required(name)
        if value and not any(c.isalnum() for c in normalize_name(value)):
            self.fail(name, (BAD_VALUE, f"nom {value!r} sans lettre ni chiffre"))
            return None
        return value

    def date(self, name: str) -> date | None:
        """JJ/MM/AAAA or AAAA-MM-JJ (BAD_DATE, MISSING_FIELD)."""
        v = self.row.get(name)
        if v.__class__ is str and len(v) == 10 and v.isascii():
            d = None
            try:
                if v[2] == "/" and v[5] == "/" and (v[:2] + v[3:5] + v[6:]).isdigit():
                    d = date(int(v[6:]), int(v[3:5]), int(v[:2]))
                elif v[4] == "-" and v[7] == "-" and (v[:4] + v[5:7] + v[8:]).isdigit():
                    d = date(int(v[:4]), int(v[5:7]), int(v[8:]))
            except ValueError:
                pass  # not a calendar date: parse_date says why
            if d is not None and EARLIEST_YEAR <= d.year <= LATEST_YEAR:
                return d
        return self.check(name, parse_date)

    def uai(self, name: str) -> str | None:
        v = self.row.get(name)
        if (v.__class__ is str and len(v) == 8 and v.isascii() and v[:7].isdigit()
                and v[7] == _UAI_LETTERS[int(v[:7]) % 23]):
            return v
        return self.check(name, check_uai)

    def commune(self, name: str, *, optional: bool = False) -> str | None:
        v = self.row.get(name)
        if v.__class__ is str:
            if not v and optional:
                return None
            if len(v) == 5 and v.isascii() and v[0].isdigit() and v[1] in _COMMUNE_2ND and v[2:].isdigit():
                return v
        return self.check(name, check_commune, optional=optional)

    def enum(self, name: str, allowed: tuple[str, ...], *, optional: bool = False) -> str | None:
        v = self.row.get(name)
        if v.__class__ is str:
            if v in allowed:
                return v
            if not v and optional:
                return None
        return self.check(name, check_enum, allowed, optional=optional)

    def siret(self, name: str) -> str | None:
        v = self.row.get(name)
        if v.__class__ is str:
            if v in _GOOD_SIRETS:
                return v
            if len(v) == 14 and v.isascii() and v.isdigit() and luhn_ok(v):
                if len(_GOOD_SIRETS) < 100_000:
                    _GOOD_SIRETS.add(v)
                return v
        return self.check(name, check_siret)

    def count(self, name: str) -> int | None:
        """An integer from 0 to INT_MAX in plain digits (BAD_VALUE, MISSING_FIELD)."""
        v = self.row.get(name)
        if v.__class__ is str and 0 < len(v) < 10 and v.isascii() and v.isdigit():  # < 10 digits: ≤ INT_MAX
            return int(v)
        return self.check(name, check_non_negative_int)

    def month(self, name: str) -> tuple[int, int] | None:
        v = self.row.get(name)
        if v.__class__ is str and len(v) == 7 and v[4] == "-" and v.isascii() and (v[:4] + v[5:]).isdigit():
            year, month = int(v[:4]), int(v[5:])
            if 1 <= month <= 12 and EARLIEST_YEAR <= year <= LATEST_YEAR:
                return year, month
        return self.check(name, check_month)

    def fail(self, name: str, error: FieldError | tuple[str, str]) -> None:
        code, detail = (error.code, error.detail) if isinstance(error, FieldError) else error
        self.errors.append(Rejection(code, f"{name}: {detail}", name))

    def missing(self, name: str, why: str) -> None:
        self.fail(name, (MISSING_FIELD, f"champ obligatoire vide ({why})"))

    def ine(self, name: str) -> str | None:
        """The INE normalised, or None; a non-empty invalid INE counts one warning."""
        v = self.row.get(name)
        if v.__class__ is str and len(v) == 11 and v.isascii() and v.isalnum() and v.upper() == v:
            # the three formats, already upper-case and without spaces
            if (v[:9].isdigit() and v[9:].isalpha()) or (v[:10].isdigit() and v[10].isalpha()) or (
                    v[:4].isdigit() and v[4] == "A" and v[5:10].isdigit() and v[10].isalpha()):
                return v
        text = self.text(name)
        if not text:
            return None
        ine = normalize_ine(text)
        if ine is None:
            self.warnings += 1
        return ine

    @property
    def ok(self) -> bool:
        return not self.errors

    def rejected(self, event_date: date | None = None, born: date | None = None) -> Rejected:
        """Every error found; `event_date`, when it could be read, still counts for the
        file's default as-of, and `born` decides the under-15 filter (see Rejected)."""
        return Rejected(tuple(self.errors), event_date, born)


def person(ine: str | None, nom: str, prenom: str, date_naissance: date, commune: str | None) -> dict[str, Any]:
    return {
        "ine": ine,
        "nom": nom,
        "prenom": prenom,
        "date_naissance": date_naissance,
        "commune_residence": commune,
    }


def make_event(
    ctx: Context,
    event_type: str,
    event_id: str,
    ref: str,
    event_date: date,
    who: dict[str, Any],
    **fields: Any,
) -> Event:
    """An event dict shaped like its Avro schema (hub.types.events): envelope + fields."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "source": ctx.source,
        "source_ref": ref,
        "event_date": event_date,
        "received_at": ctx.clock(),
        "person": who,
        **fields,
    }


def age_at(birth: date, when: date) -> int:
    """Age in completed years (rules.md §2); someone born 29/02 turns a year older on 01/03."""
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])
