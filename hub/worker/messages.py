"""The worker's internal envelope on its private topic `<worker_id>-engine-persons`.

One byte says what the message is, the rest is its payload. No pickle on the wire:
whoever can write to the topic must not be able to run code in the worker.

    E + event      an event to route as if it came from its source topic (re-keyed by
                   its person key: counsellors' actions keyed by case id, or a record
                   whose Kafka key is not the person key the worker computes)
    A + event      assign: add this event to the person of the message key (an INE-less
                   event linked to that INE by its name key)
    R + event_id [+ " " + name key digest]
                   retract: the event no longer belongs to the person of the key, as far
                   as that name key is concerned (another name key — the fact spelled
                   otherwise — may still link it; messages written before carry no
                   digest: the event goes whole)
    G + INE        register: this INE carries the name key whose digest is the key
    T + date       tick: the hub's clock is now this ISO date (sent to every partition)
    D + json       directory: {"offset": n, "version": hash} of a new `meta:version`
                   record on hub.directory.v1 (sent to every partition)
    B + entries    bundle: the E/A/R/G messages one batch sends to one partition, each
                   entry `<u32 key length><key><u32 message length><message>`, in the
                   order they were produced (key `__bundle__`, explicit partition: the
                   one their keys hash to). Identity linking sends about 0.4 message
                   per source event; bundled, the framework's per-record cost is paid
                   once per batch and partition instead.

`event` is the event's single-object Avro encoding, exactly as on the source topics.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

ROUTE = b"E"
ASSIGN = b"A"
RETRACT = b"R"
REGISTER = b"G"
TICK = b"T"
DIRECTORY = b"D"
BUNDLE = b"B"
KINDS = (ROUTE, ASSIGN, RETRACT, REGISTER, TICK, DIRECTORY, BUNDLE)
BUNDLED = (ROUTE, ASSIGN, RETRACT, REGISTER)
BUNDLE_KEY = b"__bundle__"
_LEN = struct.Struct(">I")


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
    def retracted(self) -> tuple[str, str | None]:
        """(event id, name key digest or None) of a RETRACT."""
        event_id, _, name_digest = self.payload.decode().partition(" ")
        return event_id, name_digest or None

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


def retract(event_id: str, name_digest: str) -> bytes:
    return RETRACT + f"{event_id} {name_digest}".encode()


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


def bundle(entries: Sequence[tuple[bytes, bytes]]) -> bytes:
    """One message carrying `entries` [(key, message)], each an E/A/R/G message."""
    parts = [BUNDLE]
    for key, value in entries:
        parts += (_LEN.pack(len(key)), key, _LEN.pack(len(value)), value)
    return b"".join(parts)


def unbundle(payload: bytes) -> list[tuple[bytes, Internal]]:
    """The (key, message) entries of a bundle's payload, in order. A truncated or
    nested bundle raises BadMessage whole: no entry of it is applied."""
    entries = []
    pos, end = 0, len(payload)
    try:
        while pos < end:
            (n,) = _LEN.unpack_from(payload, pos)
            key = payload[pos + 4 : pos + 4 + n]
            pos += 4 + n
            (m,) = _LEN.unpack_from(payload, pos)
            value = payload[pos + 4 : pos + 4 + m]
            pos += 4 + m
            if len(key) != n or len(value) != m:
                raise BadMessage("truncated bundle")
            msg = parse(value)
            if msg.kind not in BUNDLED:
                raise BadMessage(f"{msg.kind!r} cannot be bundled")
            entries.append((key, msg))
    except struct.error as exc:
        raise BadMessage("truncated bundle") from exc
    return entries
