"""The Avro layer: schemas/, fingerprints, single-object codec, compatibility checks."""

from hub.avro.codec import (
    Codec,
    CodecError,
    CorruptMessage,
    EncodeError,
    UnknownFingerprint,
    get_codec,
    read_header,
)
from hub.avro.fingerprint import canonical_form, crc64_avro, fingerprint
from hub.avro.loader import SchemaFileError, SchemaVersion, default_schema_dir, load_dir

__all__ = [
    "Codec",
    "CodecError",
    "CorruptMessage",
    "EncodeError",
    "SchemaFileError",
    "SchemaVersion",
    "UnknownFingerprint",
    "canonical_form",
    "crc64_avro",
    "default_schema_dir",
    "fingerprint",
    "get_codec",
    "load_dir",
    "read_header",
]
