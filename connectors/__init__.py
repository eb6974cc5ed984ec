"""The hub's connectors: one small package per source, the shared machinery in `core`.

    from connectors import get_connector, run_ingest
    result = await run_ingest(get_connector("cfa"), path, sink=..., seen=..., directory=...)

Adding a source = a package exposing `CONNECTOR` (a `core.types.Connector`: usually a
`core.tabular.CsvConnector` with its columns and `validate` function) and one line in
`_PACKAGES` below.
"""

from __future__ import annotations

import importlib

from hub.errors import InputError

from connectors.core import (
    Accepted,
    Connector,
    Context,
    Filtered,
    IngestResult,
    Mapped,
    Rejected,
    Rejection,
    check_record,
    make_context,
    run_ingest,
    screen,
)

# Source name (as `hub ingest SOURCE` and event `source` spell it) → package.
_PACKAGES = {
    "rectorat": "connectors.rectorat",
    "absenteisme": "connectors.absenteisme",
    "mission-locale": "connectors.mission_locale",
    "cfa": "connectors.cfa",
    "cti": "connectors.cti",
}
SOURCES = tuple(_PACKAGES)


def get_connector(source: str) -> Connector:
    """The connector of `source` (InputError for an unknown source)."""
    try:
        module = _PACKAGES[source]
    except KeyError:
        raise InputError(f"source inconnue {source!r}: {', '.join(SOURCES)} attendu") from None
    return importlib.import_module(module).CONNECTOR


__all__ = [
    "SOURCES",
    "Accepted",
    "Connector",
    "Context",
    "Filtered",
    "IngestResult",
    "Mapped",
    "Rejected",
    "Rejection",
    "check_record",
    "get_connector",
    "make_context",
    "run_ingest",
    "screen",
]
