"""hub.kafka.encoders: the compiled encoders give exactly the codec's bytes (or its error)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from hub.avro.codec import EncodeError, get_codec
from hub.kafka.encoders import compile_encoder, fast_encoder

EVENT_TYPES = ["ELEVE_INSCRIT", "ELEVE_SORTI", "ABSENTEISME_MENSUEL", "CONTRAT_SIGNE", "CONTRAT_ROMPU",
               "SORTIE_CFA", "JEUNE_ML", "SIGNALEMENT_CTI"]


def _text(rng: random.Random) -> str:
    n = rng.choice([0, 1, 5, 40, 63, 64, 65, 200, 8191, 8192] if rng.random() < 0.99 else [16383, 16384, 20000])
    alphabet = "abcXYZ 0123-'éÉœ€𝔘ü\u0301"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _value(rng: random.Random, t):  # noqa: ANN001
    if isinstance(t, list):
        return None if rng.random() < 0.4 else _value(rng, t[1])
    if isinstance(t, dict):
        lt = t.get("logicalType")
        if t["type"] == "record":
            return {f["name"]: _value(rng, f["type"]) for f in t["fields"]}
        if lt == "date":
            return date(1970, 1, 1) + timedelta(days=rng.randint(-719_000, 2_900_000))
        if lt == "timestamp-millis":
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randint(-6 * 10**16, 2 * 10**17))
        return _value(rng, t["type"])
    if t == "string":
        return _text(rng)
    if t == "int":
        return rng.choice([0, 1, -1, 63, 64, -64, -65, 8191, 16383, 16384, 2**31 - 1, -(2**31), rng.randint(-10**6, 10**6)])
    if t == "long":
        return rng.choice([0, -1, 2**63 - 1, -(2**63), rng.randint(-10**12, 10**12)])
    if t == "boolean":
        return rng.random() < 0.5
    raise AssertionError(t)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_compiled_encoder_matches_the_codec(event_type: str) -> None:
    codec = get_codec()
    latest = codec.latest(event_type)
    compiled = compile_encoder(latest.schema, latest.header)  # raises if not compiled
    slow, fast = codec.encoder(event_type), fast_encoder(codec, event_type)
    rng = random.Random(event_type)
    compiled_ok = 0
    for _ in range(200):
        datum = _value(rng, latest.schema)
        expected = slow(datum)
        assert fast(datum) == expected
        try:
            out = compiled(datum)
        except Exception:  # noqa: BLE001 — not its shape (a string ≥ 16 KiB): the codec's path
            continue
        assert out == expected
        compiled_ok += 1
        assert codec.decode(out)["event_id"] == datum["event_id"]
    assert compiled_ok > 150


def test_unusual_values_fall_back_to_the_codec() -> None:
    codec = get_codec()
    latest = codec.latest("ELEVE_INSCRIT")
    slow, fast = codec.encoder("ELEVE_INSCRIT"), fast_encoder(codec, "ELEVE_INSCRIT")
    base = _value(random.Random(1), latest.schema)
    paris = timezone(timedelta(hours=1))
    variants = [
        {**base, "received_at": base["received_at"].astimezone(paris)},  # aware, not UTC
        {**base, "person": {**base["person"], "commune_residence": None, "ine": "123456789AB"}},
        {**base, "event_date": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)},  # a datetime for a date
    ]
    for datum in variants:
        assert fast(datum) == slow(datum)
    broken = [
        {k: v for k, v in base.items() if k != "uai"},  # missing field
        {**base, "eleve_id": 12},  # wrong type
        {**base, "person": {**base["person"], "nom": None}},
    ]
    for datum in broken:
        with pytest.raises(EncodeError) as slow_error:
            slow(datum)
        with pytest.raises(EncodeError) as fast_error:
            fast(datum)
        assert str(fast_error.value) == str(slow_error.value)
