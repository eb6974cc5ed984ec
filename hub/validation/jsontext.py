"""Strict JSON for the records institutions send (CTI JSON Lines, HTTP bodies).

`json.loads` accepts what no other system can carry on: `NaN`/`Infinity` (not JSON),
a lone UTF-16 surrogate written as an escape (`"\\ud800"`: no UTF-8 encoding, so the
Avro encoder fails on it), and nesting deep enough to exhaust the interpreter's stack.
Each would stop an ingest in the middle of a file; here each is a ValueError, which the
callers turn into one rejected record (BAD_JSON, 422). So is an object naming a key twice.
"""

from __future__ import annotations

import json
from typing import Any


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} n'est pas du JSON")


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for k, v in value.items():
            k.encode("utf-8")
            _check_text(v)
    elif isinstance(value, list):
        for v in value:
            _check_text(v)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise ValueError(f"clé {key!r} en double dans un objet")
        value[key] = item
    return value


def loads_strict(text: str | bytes) -> Any:
    """`json.loads`, refusing non-JSON constants, a key given twice in one object (JSON
    parsers disagree on which one wins; `json` keeps the last in silence), lone
    surrogates and absurd nesting (ValueError, with a French message)."""
    try:
        value = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ValueError("JSON trop imbriqué") from None
    if (b"\\u" if isinstance(text, bytes) else "\\u") in text:  # only an escape can hold a surrogate
        try:
            _check_text(value)
        except UnicodeEncodeError:
            raise ValueError("caractère invalide (\\u d'un demi-caractère UTF-16 isolé)") from None
        except RecursionError:
            raise ValueError("JSON trop imbriqué") from None
    return value
