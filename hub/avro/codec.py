"""Avro single-object encoding of hub records (interfaces.md, "Event encoding").

A message is `C3 01` + the writer schema's CRC-64-AVRO fingerprint (8 bytes, little
endian) + the Avro binary body. Any Avro implementation can read it given the schema;
the hub publishes its schemas on `hub.schemas.v1` (see hub.avro.registry).

Hot path: schemas are parsed once; the 10-byte header of each version is precomputed
and is itself the dict key used to find the writer on decode (no struct unpacking);
encode/decode add one dict lookup and a BytesIO to fastavro's schemaless calls.

Newer versions: a process started before a schema's new version was added meets its
fingerprint in messages (a connector upgraded first). `learn` takes that version from
its `hub.schemas.v1` record and reads its data into the latest local version's shape
(the worker follows the topic: `hub/worker/schemas.py`). The only state that changes is
that a decoder is added (one dict assignment each), so one instance is still safe to
share between threads.

Values follow hub/types: dates are `datetime.date`, timestamps aware UTC `datetime`
(timestamp-millis: microseconds are truncated on the wire).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.validation import ValidationError, validate

from hub.avro.compat import check_pair
from hub.avro.fingerprint import fingerprint_hex
from hub.avro.loader import MAGIC, SchemaFileError, SchemaVersion, load_dir, make_version
from hub.errors import HubError

HEADER_SIZE = 10


class CodecError(HubError):
    """Any failure to encode or decode a hub Avro message."""


class EncodeError(CodecError):
    """The datum does not match the schema (or the schema name is unknown)."""


class CorruptMessage(CodecError):
    """Not a decodable single-object message: bad magic, truncated frame, a body that
    does not decode with the writer schema, or trailing bytes after the body."""


class UnknownFingerprint(CodecError):
    """The writer schema's fingerprint is none of the known versions."""

    def __init__(self, fingerprint: int) -> None:
        super().__init__(f"unknown writer schema fingerprint {fingerprint_hex(fingerprint)} (header bytes)")
        self.fingerprint = fingerprint


def read_header(data: bytes) -> int:
    """The writer fingerprint of a single-object message (unsigned), header checked."""
    if len(data) < HEADER_SIZE:
        raise CorruptMessage(f"truncated frame: {len(data)} bytes, the header alone is {HEADER_SIZE}")
    if data[:2] != MAGIC:
        raise CorruptMessage(f"bad magic {bytes(data[:2]).hex()}, expected c301")
    return int.from_bytes(data[2:HEADER_SIZE], "little")


class Codec:
    """Encodes and decodes hub records by schema name, every version of `schemas/`.

    Names accepted by `encode`: the file stem (`eleve_inscrit`), its upper-case form,
    which is the event type (`ELEVE_INSCRIT`), the record's full name
    (`fr.hub.events.EleveInscrit`) and its short name (`EleveInscrit`). Encoding uses the
    latest version unless `version=` is given. Decoding finds the writer version by
    fingerprint and returns the datum shaped by the latest version of the same schema
    (Avro schema resolution), so consumers only ever see the current shape.
    """

    def __init__(
        self,
        schema_dir: Path | str | None = None,
        *,
        versions: Mapping[str, Sequence[SchemaVersion]] | None = None,
        validate: bool = False,
    ) -> None:
        """`validate=True` runs fastavro's full validation before each encode (int/long
        ranges, which the writer does not check, and exact types): about 3× slower, for
        boundaries and tests. By default the connectors' validation is trusted."""
        self._validate = validate
        groups = versions if versions is not None else load_dir(schema_dir)
        self._versions: dict[str, tuple[SchemaVersion, ...]] = {
            n: tuple(sorted(vs, key=lambda v: v.version)) for n, vs in groups.items()
        }
        self._aliases: dict[str, str] = {}
        # name/alias → (header, parsed writer schema), latest version only: the hot path
        self._enc: dict[str, tuple[bytes, Any]] = {}
        # header → (writer parsed, reader parsed or None when the writer is the latest)
        self._dec: dict[bytes, tuple[Any, Any]] = {}
        self._by_header: dict[bytes, SchemaVersion] = {}
        claims: dict[str, set[str]] = {}
        for name, vs in self._versions.items():
            latest = vs[-1]
            for alias in (name, name.upper(), latest.fullname, latest.fullname.rpartition(".")[2]):
                claims.setdefault(alias, set()).add(name)
            for v in vs:  # ascending: with equal canonical forms the latest wins
                # Same canonical form = same bytes: read with the latest schema directly
                # (no resolution, and the latest logical types).
                same = v.canonical == latest.canonical
                self._dec[v.header] = (latest.parsed, None) if same else (v.parsed, latest.parsed)
                self._by_header[v.header] = v
        for alias, owners in claims.items():
            if len(owners) == 1:  # an alias two schemas claim (a short name) is dropped
                (name,) = owners
                self._aliases[alias] = name
                latest = self._versions[name][-1]
                self._enc[alias] = (latest.header, latest.parsed)

    # -- lookup -----------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, name: str) -> tuple[SchemaVersion, ...]:
        """Every version of a schema (any accepted alias), oldest first."""
        try:
            return self._versions[self._aliases[name]]
        except KeyError:
            raise EncodeError(f"unknown schema {name!r}") from None

    def latest(self, name: str) -> SchemaVersion:
        return self.versions(name)[-1]

    def version(self, name: str, version: int) -> SchemaVersion:
        for v in self.versions(name):
            if v.version == version:
                return v
        raise EncodeError(f"schema {name!r} has no version {version}")

    def by_fingerprint(self, fingerprint: int) -> SchemaVersion:
        try:
            return self._by_header[MAGIC + fingerprint.to_bytes(8, "little")]
        except KeyError:
            raise UnknownFingerprint(fingerprint) from None

    def __iter__(self) -> Iterator[SchemaVersion]:
        for vs in self._versions.values():
            yield from vs

    def learn(self, record: bytes) -> SchemaVersion | None:
        """Read messages written with the schema of a `hub.schemas.v1` record from now on,
        in the latest local version's shape; the version learned, or None when there is
        nothing to learn (already known, or a record this codec has no schema for).

        Nothing of the record is trusted: its schema must meet the Avro rules
        (`make_version`), its fingerprint is computed here, and it must resolve against
        the local version it will be read as (`compat.check_pair`): otherwise
        CodecError, and its messages stay unreadable (UnknownFingerprint)."""
        try:
            value = json.loads(record)
            schema, version = value["schema"], int(value.get("version") or 0)
            name = schema["name"]
            space = schema.get("namespace")
        except (ValueError, KeyError, TypeError) as e:
            raise CodecError(f"not a schema record: {type(e).__name__}") from None
        fullname = name if "." in str(name) or not space else f"{space}.{name}"
        local = self._aliases.get(fullname)
        if local is None:
            return None
        try:
            v = make_version(local, version, schema)
        except SchemaFileError as e:
            raise CodecError(str(e)) from None
        if v.header in self._dec:
            return None
        latest = self._versions[local][-1]
        problems = check_pair(v, latest)
        if problems:
            raise CodecError(f"{fullname} {v.fingerprint_hex} cannot be read as {latest.label}: {problems[0]}")
        self._by_header[v.header] = v
        self._dec[v.header] = (v.parsed, latest.parsed)
        return v

    # -- encode -----------------------------------------------------------------------

    def encode(self, name: str, datum: Mapping[str, Any], version: int | None = None) -> bytes:
        """Single-object encoding of `datum` with the latest (or the given) version."""
        if version is None:
            try:
                header, parsed = self._enc[name]
            except KeyError:
                raise EncodeError(f"unknown schema {name!r}") from None
        else:
            v = self.version(name, version)
            header, parsed = v.header, v.parsed
        if self._validate:
            _validate(name, datum, parsed)
        fo = BytesIO()
        fo.write(header)
        try:
            schemaless_writer(fo, parsed, datum)
        except Exception as e:  # fastavro raises ValueError, TypeError, AttributeError…
            raise _encode_error(name, datum, parsed, e) from e
        return fo.getvalue()

    def encode_event(self, event: Mapping[str, Any]) -> bytes:
        """Encode an event dict with the schema of its own `event_type`."""
        try:
            name = event["event_type"]
        except (KeyError, TypeError):
            raise EncodeError("event without an event_type") from None
        return self.encode(name, event)

    def encoder(self, name: str) -> Callable[[Mapping[str, Any]], bytes]:
        """A one-argument encoder bound to the latest version of `name` (Faust/aiokafka
        value serializers), with the name resolved once."""
        header, parsed = self._enc.get(name) or (None, None)
        if header is None:
            raise EncodeError(f"unknown schema {name!r}")
        if self._validate:
            return lambda datum: self.encode(name, datum)

        def encode(datum: Mapping[str, Any]) -> bytes:
            fo = BytesIO()
            fo.write(header)
            try:
                schemaless_writer(fo, parsed, datum)
            except Exception as e:
                raise _encode_error(name, datum, parsed, e) from e
            return fo.getvalue()

        return encode

    # -- decode -----------------------------------------------------------------------

    def decode(self, data: bytes) -> dict[str, Any]:
        """The datum of a single-object message, in the latest version's shape.

        Raises only CodecError subclasses: UnknownFingerprint, CorruptMessage.
        """
        try:
            writer, reader = self._dec[data[:HEADER_SIZE]]
        except KeyError:
            if not isinstance(data, bytes):
                return self.decode(_as_bytes(data))
            raise UnknownFingerprint(read_header(data)) from None  # or CorruptMessage
        except (TypeError, ValueError):  # bytearray, writable memoryview, None, int…
            return self.decode(_as_bytes(data))
        fo = BytesIO(data)  # shares the bytes object's buffer: no copy
        fo.seek(HEADER_SIZE)
        try:
            datum = schemaless_reader(fo, writer, reader)
        except Exception as e:  # EOFError, UnicodeDecodeError, IndexError, OverflowError…
            raise CorruptMessage(f"body does not decode: {type(e).__name__}: {e}") from e
        if fo.tell() != len(data):
            raise CorruptMessage(f"{len(data) - fo.tell()} trailing bytes after the body")
        return datum

    def decode_with_version(self, data: bytes) -> tuple[SchemaVersion, dict[str, Any]]:
        """The writer's SchemaVersion and the datum (in the latest version's shape)."""
        datum = self.decode(data)
        return self._by_header[bytes(data[:HEADER_SIZE])], datum


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise CorruptMessage(f"expected bytes, got {type(data).__name__}")


def _validate(name: str, datum: Any, parsed: Any) -> None:
    try:
        validate(datum, parsed, raise_errors=True)
    except ValidationError as v:
        detail = "; ".join(str(x) for x in v.errors) if getattr(v, "errors", None) else str(v)
        raise EncodeError(f"{name}: {detail}") from None
    except Exception as e:
        raise EncodeError(f"{name}: {type(e).__name__}: {e}") from e


def _encode_error(name: str, datum: Any, parsed: Any, cause: Exception) -> EncodeError:
    """Name the faulty field: fastavro's own validation gives the path (slow path only)."""
    try:
        _validate(name, datum, parsed)
    except EncodeError as e:
        if e.__cause__ is None:  # validation named the field
            return e
    return EncodeError(f"{name}: {type(cause).__name__}: {cause}")


@lru_cache(maxsize=1)
def get_codec() -> Codec:
    """The process-wide codec over the default schema directory."""
    return Codec()
