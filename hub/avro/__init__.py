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
from hub.avro.compat import check_dir, check_pair
from hub.avro.fingerprint import canonical_form, crc64_avro, fingerprint, fingerprint_hex
from hub.avro.loader import SchemaFileError, SchemaVersion, default_schema_dir, load_dir
from hub.avro.registry import schema_records

__all__ = [
    "Codec",
    "CodecError",
    "CorruptMessage",
    "EncodeError",
    "SchemaFileError",
    "SchemaVersion",
    "UnknownFingerprint",
    "canonical_form",
    "check_dir",
    "check_pair",
    "crc64_avro",
    "default_schema_dir",
    "fingerprint",
    "fingerprint_hex",
    "get_codec",
    "load_dir",
    "read_header",
    "schema_records",
]
