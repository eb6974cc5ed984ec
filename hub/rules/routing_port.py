"""The one door to routing (rules.md §6), implemented in `hub.directory.routing`.

`evaluate(..., route=None)` uses `hub.directory.routing.route`, imported on first use
(the rules package does not import the directory package at import time). Tests and
callers may pass any function with the same signature:

    route(case_type, residence_commune, establishment_uai, directory)
        -> object with .observatoire, .assigned_to_role, .assigned_to_code

The engine passes `residence_commune=None` for PREVENTION (routed by establishment only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RouteFn = Callable[[str, "str | None", "str | None", Any], Any]

_default: RouteFn | None = None


def get_route(route: RouteFn | None = None) -> RouteFn:
    """`route` itself when given, else `hub.directory.routing.route` (lazily imported)."""
    global _default
    if route is not None:
        return route
    if _default is None:
        try:
            from hub.directory.routing import route as directory_route
        except ImportError as exc:  # pragma: no cover - only before the module exists
            raise RuntimeError("hub.directory.routing.route is not available; pass route= to evaluate()") from exc
        _default = directory_route
    return _default
