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


class Choice(click.Choice):
    """click's Choice whose help and refusal name the choices as written (`OUVERT`):
    click 8.2+ shows a case-insensitive choice lower-cased, not the spec's spelling."""

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        choices = "|".join(str(c) for c in self.choices)
        return f"{{{choices}}}" if param.required and param.param_type_name == "argument" else f"[{choices}]"

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        choices = ", ".join(repr(str(c)) for c in self.choices)
        return f"{value!r} is not one of {choices}." if len(self.choices) > 1 else f"{value!r} is not {choices}."
