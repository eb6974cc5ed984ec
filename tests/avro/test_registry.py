"""Records of the compacted topic hub.schemas.v1."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

from hub.avro import Codec, canonical_form, fingerprint
from hub.avro.registry import TOPIC, schema_records


def test_one_record_per_version_keyed_like_the_message_header() -> None:
    codec = Codec()
    records = schema_records()
    assert TOPIC == "hub.schemas.v1"
    assert len(records) == len(list(codec)) == 13
    keys = {k for k, _ in records}
    assert len(keys) == 13
    for key, value in records:
        doc = json.loads(value)
        assert set(doc) == {"name", "version", "fullname", "fingerprint", "canonical", "schema"}
        assert doc["fingerprint"] == key
        assert canonical_form(doc["schema"]) == doc["canonical"]
        assert fingerprint(doc["canonical"]).to_bytes(8, "little").hex() == key
        assert codec.latest(doc["name"]).header[2:].hex() == key
    sample = {"source": "rectorat", "as_of": date(2026, 3, 15), "published_at": datetime(2026, 3, 15, tzinfo=timezone.utc)}
    assert codec.encode("WATERMARK", sample)[2:10].hex() in keys


def test_records_are_deterministic(schemas_copy: Path) -> None:
    assert schema_records(schemas_copy) == schema_records(schemas_copy) == schema_records()
