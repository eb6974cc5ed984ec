"""Errors the command line turns into one clear line on stderr and an exit status."""

from __future__ import annotations


class HubError(Exception):
    """An error a user can act on. `exit_code` 2 means bad input or usage."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(HubError):
    """Bad input or usage: a whole file refused, an invalid argument."""

    exit_code = 2


class BrokerError(HubError):
    """The Kafka broker cannot be reached, started or stopped."""
