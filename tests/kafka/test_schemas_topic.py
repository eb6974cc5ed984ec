"""`hub topics apply` publishes every schema on hub.schemas.v1, resolvable by fingerprint."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from hub.avro import get_codec
from hub.avro.codec import read_header
from hub.avro.fingerprint import fingerprint_hex
from hub.kafka.compacted import read_table
from hub.kafka.topics import SCHEMAS
from tests.conftest import run_hub

pytestmark = pytest.mark.kafka


async def test_a_consumer_resolves_an_event_fingerprint_from_kafka(hub_env):
    assert run_hub("topics", "apply", env=hub_env).returncode == 0
    table = await read_table(SCHEMAS)
    codec = get_codec()
    assert {v.fingerprint_hex.encode() for v in codec} <= set(table)
    # A message as another institution receives it: its header names the writer schema.
    message = codec.encode("WATERMARK", {"source": "cfa", "as_of": date(2026, 3, 1),
                                         "published_at": datetime(2026, 3, 1, 12, 0)})
    record = json.loads(table[fingerprint_hex(read_header(message)).encode()])
    assert record["name"] == "watermark" and record["schema"]["name"] == "Watermark"
