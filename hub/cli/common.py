"""Helpers shared by the command modules."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from hub.errors import HubError

T = TypeVar("T")


def run_async(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Let a click command be an `async def`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def fail(message: str, code: int = 2) -> None:
    raise HubError(message, exit_code=code)


def echo_err(message: str) -> None:
    click.echo(message, err=True)
