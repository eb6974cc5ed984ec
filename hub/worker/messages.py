"""The worker's internal envelope on its private topic `<worker_id>-engine-persons`.

One byte says what the message is, the rest is its payload. No pickle on the wire:
whoever can write to the topic must not be able to run code in the worker.

    E + event      an event to route as if it came from its source topic (re-keyed by
                   its person key: counsellors' actions keyed by case id, or a record
                   whose Kafka key is not the person key the worker computes)
    A + event      assign: add this event to the person of the message key (an INE-less
                   event linked to that INE by its name key)
    R + event_id   retract: the event no longer belongs to the person of the key
    G + INE        register: this INE carries the name key whose digest is the key
    T + date       tick: the hub's clock is now this ISO date (sent to every partition)
    D + json       directory: {"offset": n, "version": hash} of a new `meta:version`
                   record on hub.directory.v1 (sent to every partition)

`event` is the event's single-object Avro encoding, exactly as on the source topics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

ROUTE = b"E"
ASSIGN = b"A"
RETRACT = b"R"
REGISTER = b"G"
TICK = b"T"
DIRECTORY = b"D"
KINDS = (ROUTE, ASSIGN, RETRACT, REGISTER, TICK, DIRECTORY)


class BadMessage(ValueError):
    """An internal message the worker cannot read (never written by this code)."""


@dataclass(frozen=True, slots=True)
class Internal:
    kind: bytes
    payload: bytes

    @property
    def text(self) -> str:
        return self.payload.decode()

    @property
    def clock(self) -> date:
        return date.fromisoformat(self.payload.decode())

    @property
    def directory(self) -> tuple[int, str]:
        d = json.loads(self.payload)
        return int(d["offset"]), str(d["version"])


def route(event_bytes: bytes) -> bytes:
    return ROUTE + event_bytes


def assign(event_bytes: bytes) -> bytes:
    return ASSIGN + event_bytes


def retract(event_id: str) -> bytes:
    return RETRACT + event_id.encode()


def register(ine: str) -> bytes:
    return REGISTER + ine.encode()


def tick(clock: date) -> bytes:
    return TICK + clock.isoformat().encode()


def directory(offset: int, version: str) -> bytes:
    return DIRECTORY + json.dumps({"offset": offset, "version": version}, sort_keys=True).encode()


def parse(value: bytes | None) -> Internal:
    if not value:
        raise BadMessage("empty internal message")
    kind = bytes(value[:1])
    if kind not in KINDS:
        raise BadMessage(f"unknown internal message kind {kind!r}")
    return Internal(kind, bytes(value[1:]))
