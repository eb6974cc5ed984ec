"""Helpers for the per-source `validate` functions: collect field errors, build events.

The field rules themselves are hub.validation's (shared with the directory and HTTP);
this module only tags each error with its field, builds the person and the envelope.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from hub.identity import normalize_ine
from hub.validation import BAD_VALUE, MISSING_FIELD, FieldError

from connectors.core.types import Context, Event, Rejected, Rejection

T = TypeVar("T")


class Fields:
    """One record's fields, read and checked one by one; every error is collected.

    `row` is a mapping of field name → value. With `lower=True` (CSV and HTTP rows) the
    names are compared case-insensitively. A missing key reads as empty. A check that
    fails records a Rejection tagged with the field and returns None, so that a
    validate function finds every problem of a record in one go (HTTP 422 lists them).
    """

    __slots__ = ("errors", "row", "warnings")

    def __init__(self, row: Mapping[str, Any], *, lower: bool = True) -> None:
        if lower and any(not isinstance(k, str) or k != k.strip().lower() for k in row):
            row = {str(k).strip().lower(): v for k, v in row.items()}
        self.row = row
        self.errors: list[Rejection] = []
        self.warnings = 0

    def raw(self, name: str) -> Any:
        value = self.row.get(name)
        if isinstance(value, (dict, list, tuple, set)):
            raise FieldError(BAD_VALUE, "valeur non scalaire")
        return value

    def text(self, name: str) -> str:
        """The trimmed text of a field ('' when absent or empty)."""
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

    def fail(self, name: str, error: FieldError | tuple[str, str]) -> None:
        code, detail = (error.code, error.detail) if isinstance(error, FieldError) else error
        self.errors.append(Rejection(code, f"{name}: {detail}", name))

    def missing(self, name: str, why: str) -> None:
        self.fail(name, (MISSING_FIELD, f"champ obligatoire vide ({why})"))

    def ine(self, name: str) -> str | None:
        """The INE normalised, or None; a non-empty invalid INE counts one warning."""
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

    def rejected(self) -> Rejected:
        return Rejected(tuple(self.errors))


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
