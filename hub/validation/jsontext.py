"""Strict JSON for the records institutions send (CTI JSON Lines, HTTP bodies).

`json.loads` accepts what no other system can carry on: `NaN`/`Infinity` (not JSON),
a lone UTF-16 surrogate written as an escape (`"\\ud800"`: no UTF-8 encoding, so the
Avro encoder fails on it), and nesting deep enough to exhaust the interpreter's stack.
Each would stop an ingest in the middle of a file; here each is a ValueError, which the
callers turn into one rejected record (BAD_JSON, 400).
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


def loads_strict(text: str | bytes) -> Any:
    """`json.loads`, refusing non-JSON constants, lone surrogates and absurd nesting
    (ValueError, with a French message)."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
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
