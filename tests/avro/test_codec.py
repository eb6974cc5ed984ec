"""Single-object codec: round trips, interop with the Apache `avro` package, schema
resolution between versions, and typed errors for every kind of bad input."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hub.types.events as E
from hub.avro import Codec, CodecError, CorruptMessage, EncodeError, UnknownFingerprint, read_header
from hub.avro.codec import get_codec
from hub.avro.fingerprint import fingerprint_hex
from hub.avro.registry import schema_record

UTC = timezone.utc
RECEIVED = datetime(2026, 3, 15, 21, 4, 11, 250000, tzinfo=UTC)  # millisecond precision


def person(**over: Any) -> dict[str, Any]:
    p = {"ine": "123456789AB", "nom": "DUPONT", "prenom": "Élodie",
         "date_naissance": date(2009, 2, 14), "commune_residence": "86194"}
    return {**p, **over}


def event(event_type: str, source: str, ref: str, on: date, **fields: Any) -> dict[str, Any]:
    return {"event_id": "e-3f9a1c0d5b7e4a2f8c6d1e0b9a8f7c6d", "event_type": event_type, "source": source,
            "source_ref": ref, "event_date": on, "received_at": RECEIVED, "person": fields.pop("person", person()),
            **fields}


SAMPLES: dict[str, dict[str, Any]] = {
    "ELEVE_INSCRIT": event("ELEVE_INSCRIT", "rectorat", "0860012W.xml:ELEVE[17]", date(2025, 9, 2),
                           uai="0860012W", eleve_id="1234567"),
    "ELEVE_SORTI": event("ELEVE_SORTI", "rectorat", "0860012W.xml:ELEVE[17]", date(2026, 1, 10),
                         person=person(ine=None), uai="0860012W", eleve_id="1234567", motif_sortie="05"),
    "ABSENTEISME_MENSUEL": event("ABSENTEISME_MENSUEL", "absenteisme", "abs-2026-01.csv:42", date(2026, 1, 31),
                                 person=person(commune_residence=None), uai="0860012W", mois="2026-01",
                                 demi_journees_non_justifiees=12, demi_journees_justifiees=0),
    "JEUNE_ML": event("JEUNE_ML", "mission-locale", "milo.csv:7", date(2026, 2, 3),
                      person=person(ine=None, nom="N'GUESSAN-LÉGER", prenom="Zoé", commune_residence="2A004"),
                      code_ml="ML-86-POI", identifiant_milo="M-000981", evenement="ENTREE_ACCOMPAGNEMENT",
                      dispositif="CEJ", situation=None),
    "CONTRAT_SIGNE": event("CONTRAT_SIGNE", "cfa", "cfa-2025-09.csv:3", date(2025, 9, 1),
                           numero_contrat="086202509000123", uai_cfa="0861234A", siret_employeur="73282932000074",
                           rqth=False, date_debut_contrat=None),
    "CONTRAT_ROMPU": event("CONTRAT_ROMPU", "cfa", "cfa-2026-01.csv:42", date(2026, 1, 10),
                           numero_contrat="086202509000123", uai_cfa="0861234A", siret_employeur=None, rqth=True,
                           date_debut_contrat=date(2025, 9, 1), cause_rupture="PERIODE_ESSAI"),
    "SORTIE_CFA": event("SORTIE_CFA", "cfa", "cfa-2026-02.csv:9", date(2026, 2, 20),
                        numero_contrat=None, uai_cfa="0861234A", siret_employeur=None, rqth=False),
    "SIGNALEMENT_CTI": event("SIGNALEMENT_CTI", "cti", "fiche-2026-0042", date(2026, 2, 3),
                             cti="CTI-E-86-01", uai="0860012W", type="REPERAGE", reference="fiche-2026-0042",
                             motif="absences répétées, démotivation"),
    "ACTION_SUIVI": event("ACTION_SUIVI", "suivi", "web:act-17", date(2026, 3, 2),
                          case_id="c-0123456789abcdef01234567", action="SOLUTION_CONSEILLER",
                          solution="APPRENTISSAGE", auteur="ML-86-POI", commentaire=None),
    "CASE": {
        "case_id": "c-0123456789abcdef01234567", "type": "RUPTURE", "status": "ALERTE", "outcome": None,
        "observatoire": "OBS-86", "assigned_to": {"role": "CTI_REGION", "code": "CTI-R-86-02"},
        "person": person(date_naissance=date(2007, 2, 14)), "opened_on": date(2026, 1, 10),
        "alerted_on": date(2026, 6, 9), "closed_on": None, "periode_essai": False,
        "evidence": [{"event_type": "CONTRAT_ROMPU", "event_date": date(2026, 1, 10), "source": "cfa",
                      "source_ref": "cfa-2026-01.csv:42"}],
        "transfers": [{"date": date(2026, 2, 1), "from_observatoire": "OBS-17", "to_observatoire": "OBS-86",
                       "reason": "déménagement"}],
    },
    "CASE_TRANSFERE": {
        "case_id": "c-0123456789abcdef01234567", "type": "DECROCHAGE", "status": "TRANSFERE", "outcome": None,
        "observatoire": "OBS-17", "assigned_to": {"role": "OBSERVATOIRE", "code": "OBS-17"}, "person": None,
        "opened_on": date(2026, 1, 10), "alerted_on": None, "closed_on": date(2026, 2, 1), "periode_essai": None,
        "evidence": [], "transfers": []},
    "WATERMARK": {"source": "rectorat", "as_of": date(2026, 3, 15), "published_at": RECEIVED},
    "DEAD_LETTER": {"source": "cfa", "file": "cfa-2026-01.csv", "position": "line 42", "reason": "BAD_SIRET",
                    "detail": "siret_employeur: 73282932000075 fails the Luhn check",
                    "raw": "086202509000123;0861234A;73282932000075;;DUPONT;Élodie;14/02/2009",
                    "row": {"numero_contrat": "086202509000123", "siret_employeur": "73282932000075"},
                    "received_at": RECEIVED},
    "LITIGE": {"name_key_digest": "n-" + "ab" * 16, "candidates": ["123456789AB", "1234567890C"],
               "event": b"\xc3\x01\x00\xffbinary", "event_id": "e-" + "0" * 32, "received_at": RECEIVED},
}


def schema_of(key: str) -> str:
    return "CASE" if key.startswith("CASE") else key


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec()


def test_every_event_type_has_a_sample_and_a_schema(codec: Codec) -> None:
    assert set(E.EVENT_TYPES) <= set(SAMPLES)
    assert {n.upper() for n in codec.names} == {*E.EVENT_TYPES, "CASE", "WATERMARK", "DEAD_LETTER", "LITIGE"}


def _documented_fields() -> dict[str, dict[str, bool]]:
    """Field name → nullable, read from the hub/types/events.py docstring."""
    doc = re.sub(r"\([^)]*\)", "", E.__doc__.split("Fields of each type")[1].split(":", 1)[1])
    parts = re.split(r"\n\s+(" + "|".join(E.EVENT_TYPES) + r")\s+", "\n" + doc)
    return {
        t: {n.split("|")[0].strip(): n.strip().endswith("|None") for n in body.split(",") if n.strip()}
        for t, body in zip(parts[1::2], parts[2::2])
    }


ENVELOPE = ["event_id", "event_type", "source", "source_ref", "event_date", "received_at", "person"]


@pytest.mark.parametrize("event_type", E.EVENT_TYPES)
def test_event_schemas_follow_events_py(codec: Codec, event_type: str) -> None:
    fields = codec.latest(event_type).schema["fields"]
    own = _documented_fields()[event_type]
    assert [f["name"] for f in fields] == ENVELOPE + list(own)
    for f in fields[len(ENVELOPE):]:
        nullable = isinstance(f["type"], list) and f["type"][0] == "null"
        assert nullable == own[f["name"]], f["name"]
        assert nullable == ("default" in f and f["default"] is None), f["name"]
    person = fields[6]["type"]
    assert person["name"] == "Person" and person["namespace"] == "fr.hub"
    assert [p["name"] for p in person["fields"]] == ["ine", "nom", "prenom", "date_naissance", "commune_residence"]


@pytest.mark.parametrize("key", SAMPLES)
def test_round_trip(codec: Codec, key: str) -> None:
    data = codec.encode(schema_of(key), SAMPLES[key])
    latest = codec.latest(schema_of(key))
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == latest.fingerprint.to_bytes(8, "little")
    assert read_header(data) == latest.fingerprint
    assert codec.decode(data) == SAMPLES[key]
    version, datum = codec.decode_with_version(data)
    assert version is latest and datum == SAMPLES[key]


@pytest.mark.parametrize("key", SAMPLES)
def test_apache_avro_reads_what_the_hub_writes(codec: Codec, key: str) -> None:
    data = codec.encode(schema_of(key), SAMPLES[key])
    latest = codec.latest(schema_of(key))
    assert data[:2] == b"\xc3\x01" and int.from_bytes(data[2:10], "little") == latest.fingerprint
    body = io.BytesIO(data[10:])
    datum = avro.io.DatumReader(avro.schema.parse(json.dumps(latest.schema))).read(avro.io.BinaryDecoder(body))
    assert body.tell() == len(data) - 10  # the whole body, nothing more
    assert datum == SAMPLES[key]


@pytest.mark.parametrize("key", SAMPLES)
def test_hub_reads_what_apache_avro_writes(codec: Codec, key: str) -> None:
    latest = codec.latest(schema_of(key))
    buf = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(json.dumps(latest.schema))).write(SAMPLES[key], avro.io.BinaryEncoder(buf))
    # framed with the spec/Java fingerprint (avro-python's own differs for logical
    # types, see test_fingerprint.py)
    assert codec.decode(latest.header + buf.getvalue()) == SAMPLES[key]
    assert latest.header + buf.getvalue() == codec.encode(schema_of(key), SAMPLES[key])


def test_names_accepted_by_encode(codec: Codec) -> None:
    sample = SAMPLES["ELEVE_SORTI"]
    expected = codec.encode("ELEVE_SORTI", sample)
    for name in ("eleve_sorti", "fr.hub.events.EleveSorti", "EleveSorti"):
        assert codec.encode(name, sample) == expected
    assert codec.encode_event(sample) == expected
    assert codec.encoder("ELEVE_SORTI")(sample) == expected
    assert codec.encode("ELEVE_SORTI", sample, version=1) == expected
    assert codec.latest("fr.hub.Case").name == "case"
    assert get_codec() is get_codec()


def test_bytearray_and_memoryview_decode(codec: Codec) -> None:
    data = codec.encode("WATERMARK", SAMPLES["WATERMARK"])
    assert codec.decode(bytearray(data)) == SAMPLES["WATERMARK"]
    assert codec.decode(memoryview(data)) == SAMPLES["WATERMARK"]
    assert codec.decode(memoryview(bytearray(data))) == SAMPLES["WATERMARK"]  # writable: unhashable
    with pytest.raises(UnknownFingerprint):
        codec.decode(memoryview(bytearray(UNKNOWN_FP)))


def test_timestamps_are_utc_and_truncated_to_milliseconds(codec: Codec) -> None:
    wm = {**SAMPLES["WATERMARK"], "published_at": datetime(2026, 3, 15, 21, 4, 11, 250999, tzinfo=UTC)}
    out = codec.decode(codec.encode("WATERMARK", wm))["published_at"]
    assert out == datetime(2026, 3, 15, 21, 4, 11, 250000, tzinfo=UTC) and out.utcoffset().total_seconds() == 0


# -- schema resolution between versions ------------------------------------------------

V2_FIELDS = [
    {"name": "classe", "type": ["null", "string"], "default": None},
    {"name": "systeme", "type": "string", "default": "SIECLE"},
]


def _add_version(directory: Path, stem: str, version: int, edit) -> None:
    schema = json.loads((directory / f"{stem}.v1.avsc").read_text())
    edit(schema)
    (directory / f"{stem}.v{version}.avsc").write_text(json.dumps(schema, ensure_ascii=False))


def test_old_writer_resolved_to_latest_reader(schemas_copy: Path, codec: Codec) -> None:
    _add_version(schemas_copy, "eleve_sorti", 2, lambda s: s["fields"].extend(V2_FIELDS))
    c2 = Codec(schemas_copy)
    sample = SAMPLES["ELEVE_SORTI"]
    v1_bytes = codec.encode("ELEVE_SORTI", sample)  # a producer still on v1
    assert c2.encode("ELEVE_SORTI", sample, version=1) == v1_bytes
    version, datum = c2.decode_with_version(v1_bytes)
    assert version.version == 1
    assert datum == {**sample, "classe": None, "systeme": "SIECLE"}  # reader defaults
    v2 = {**sample, "classe": "2NDE PRO", "systeme": "SIECLE"}
    v2_bytes = c2.encode("ELEVE_SORTI", v2)
    assert v2_bytes[2:10] != v1_bytes[2:10] and c2.decode(v2_bytes) == v2
    with pytest.raises(UnknownFingerprint) as err:  # the v1-only codec never saw v2
        codec.decode(v2_bytes)
    assert err.value.fingerprint == c2.latest("eleve_sorti").fingerprint
    assert fingerprint_hex(err.value.fingerprint) in str(err.value)


def test_reader_drops_a_field_removed_in_the_latest_version(schemas_copy: Path, codec: Codec) -> None:
    _add_version(schemas_copy, "signalement_cti", 2,
                 lambda s: s.__setitem__("fields", [f for f in s["fields"] if f["name"] != "motif"]))
    old = codec.encode("SIGNALEMENT_CTI", SAMPLES["SIGNALEMENT_CTI"])
    expected = {k: v for k, v in SAMPLES["SIGNALEMENT_CTI"].items() if k != "motif"}
    assert Codec(schemas_copy).decode(old) == expected


def test_version_with_same_canonical_form_decodes_as_latest(schemas_copy: Path, codec: Codec) -> None:
    _add_version(schemas_copy, "watermark", 2, lambda s: s.__setitem__("doc", "only the doc changed"))
    c2 = Codec(schemas_copy)
    assert c2.latest("watermark").fingerprint == codec.latest("watermark").fingerprint
    version, datum = c2.decode_with_version(codec.encode("WATERMARK", SAMPLES["WATERMARK"]))
    assert version.version == 2 and datum == SAMPLES["WATERMARK"]


# -- typed errors ------------------------------------------------------------------------


def _valid() -> bytes:
    return Codec().encode("ELEVE_SORTI", SAMPLES["ELEVE_SORTI"])


VALID = _valid()
UNKNOWN_FP = b"\xc3\x01" + bytes(range(8)) + VALID[10:]


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", CorruptMessage, "truncated frame"),
        (b"\xc3", CorruptMessage, "truncated frame"),
        (VALID[:9], CorruptMessage, "truncated frame"),
        (b"\x00\x01" + VALID[2:], CorruptMessage, "bad magic"),
        (b"\xc3\x00" + VALID[2:], CorruptMessage, "bad magic"),
        (UNKNOWN_FP, UnknownFingerprint, "0001020304050607"),
        (VALID[:10], CorruptMessage, "does not decode"),  # header only
        (VALID[:-1], CorruptMessage, "does not decode"),  # truncated body
        (VALID[:40], CorruptMessage, "does not decode"),
        (VALID + b"\x00", CorruptMessage, "trailing bytes"),
        (VALID + VALID, CorruptMessage, "trailing bytes"),
        (VALID[:10] + b"\x06\xff\xfe\xfd" + VALID[14:], CorruptMessage, "does not decode"),  # bad UTF-8
        ("c301 as text", CorruptMessage, "expected bytes"),
        (None, CorruptMessage, "expected bytes"),
        (12345, CorruptMessage, "expected bytes"),
    ],
    ids=["empty", "one-byte", "nine-bytes", "bad-magic", "bad-magic-2", "unknown-fp", "header-only",
         "truncated-body", "half-body", "trailing-byte", "two-messages", "bad-utf8", "str", "none", "int"],
)
def test_decode_errors_are_typed(codec: Codec, data: Any, error: type[CodecError], message: str) -> None:
    with pytest.raises(error, match=message) as err:
        codec.decode(data)
    assert isinstance(err.value, CodecError)
    if isinstance(err.value, UnknownFingerprint):
        assert err.value.fingerprint == int.from_bytes(bytes(range(8)), "little")


def test_bad_union_index_is_corrupt(codec: Codec) -> None:
    # dead_letter.detail is ["null","string"]: its branch index byte is the first byte
    # that differs from the same record with detail=None; 0x0a (zigzag 5) is no branch.
    data = codec.encode("DEAD_LETTER", SAMPLES["DEAD_LETTER"])
    none = codec.encode("DEAD_LETTER", {**SAMPLES["DEAD_LETTER"], "detail": None})
    pos = next(i for i in range(len(none)) if none[i] != data[i])
    assert data[pos] == 0x02  # branch 1 = string
    with pytest.raises(CorruptMessage):
        codec.decode(data[:pos] + b"\x0a" + data[pos + 1:])


E_SORTI = SAMPLES["ELEVE_SORTI"]


@pytest.mark.parametrize(
    ("name", "datum", "message"),
    [
        ("ELEVE_SORTI", {k: v for k, v in E_SORTI.items() if k != "motif_sortie"}, "motif_sortie"),
        ("ELEVE_SORTI", {**E_SORTI, "uai": None}, "uai"),
        ("ELEVE_SORTI", {**E_SORTI, "event_date": "10/01/2026"}, "10/01/2026"),  # ISO strings pass
        ("ELEVE_SORTI", {**E_SORTI, "person": {**E_SORTI["person"], "nom": 3}}, "nom"),
        ("ELEVE_SORTI", {**E_SORTI, "person": None}, "person"),
        ("ABSENTEISME_MENSUEL", {**SAMPLES["ABSENTEISME_MENSUEL"], "demi_journees_justifiees": "3"},
         "demi_journees_justifiees"),
        ("ELEVE_SORTI", ["not", "a", "dict"], "ELEVE_SORTI"),
        ("NO_SUCH_EVENT", E_SORTI, "unknown schema"),
    ],
    ids=["missing-field", "none-in-required", "date-as-string", "int-as-string", "person-none",
         "string-as-int", "not-a-dict", "unknown-name"],
)
def test_encode_errors_name_the_field(codec: Codec, name: str, datum: Any, message: str) -> None:
    with pytest.raises(EncodeError, match=message):
        codec.encode(name, datum)


def test_int_range_is_checked_only_when_validating(codec: Codec) -> None:
    """fastavro's writer does not range-check int: 2**40 in an int field would be bytes a
    Java reader refuses. The default codec trusts the connectors' validation (speed);
    Codec(validate=True) catches it and names the field."""
    too_big = {**SAMPLES["ABSENTEISME_MENSUEL"], "demi_journees_justifiees": 2**40}
    codec.encode("ABSENTEISME_MENSUEL", too_big)  # accepted: documented trade-off
    strict = Codec(validate=True)
    with pytest.raises(EncodeError, match="demi_journees_justifiees"):
        strict.encode("ABSENTEISME_MENSUEL", too_big)
    with pytest.raises(EncodeError, match="demi_journees_justifiees"):
        strict.encoder("ABSENTEISME_MENSUEL")(too_big)
    assert strict.encode("ABSENTEISME_MENSUEL", SAMPLES["ABSENTEISME_MENSUEL"]) == codec.encode(
        "ABSENTEISME_MENSUEL", SAMPLES["ABSENTEISME_MENSUEL"])


def test_encode_event_without_type(codec: Codec) -> None:
    with pytest.raises(EncodeError):
        codec.encode_event({"uai": "x"})
    with pytest.raises(EncodeError):
        codec.encoder("NOPE")
    with pytest.raises(EncodeError):
        codec.encode("ELEVE_SORTI", E_SORTI, version=9)


# -- fuzz: nothing but CodecError escapes decode() ---------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADERS = [v.header for v in Codec()]


def _decode_or_codec_error(codec: Codec, data: bytes) -> None:
    try:
        out = codec.decode(data)
    except CodecError:
        return
    assert isinstance(out, dict)


@FUZZ
@given(st.binary(max_size=64))
def test_fuzz_random_bytes(data: bytes) -> None:
    _decode_or_codec_error(get_codec(), data)


@FUZZ
@given(st.sampled_from(HEADERS), st.binary(max_size=200))
def test_fuzz_known_header_random_body(header: bytes, body: bytes) -> None:
    _decode_or_codec_error(get_codec(), header + body)


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_fuzz_mutated_messages(key: str, data: st.DataObject) -> None:
    codec = get_codec()
    msg = bytearray(codec.encode(schema_of(key), SAMPLES[key]))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(msg) - 1))
        msg[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(msg) + 3))
    _decode_or_codec_error(codec, bytes(msg[:cut]) + bytes(max(0, cut - len(msg))))


def test_bench_script_runs() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "bench" / "codec.py"), "--n", "2000", "--rounds", "1"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.count("ratio") == 2


# -- learning a newer version from hub.schemas.v1 -------------------------------------------


def newer_contrat_rompu(schemas_copy: Path, field: dict[str, Any]) -> Codec:
    """A codec of a hub one version ahead: contrat_rompu v2 = v1 + `field`."""
    v1 = json.loads((schemas_copy / "contrat_rompu.v1.avsc").read_text())
    v1["fields"].append(field)
    (schemas_copy / "contrat_rompu.v2.avsc").write_text(json.dumps(v1))
    return Codec(schemas_copy)


def test_a_version_learned_from_hub_schemas_is_read_into_the_local_shape(schemas_copy: Path) -> None:
    newer = newer_contrat_rompu(schemas_copy, {"name": "canal", "type": ["null", "string"], "default": None})
    data = newer.encode_event({**SAMPLES["CONTRAT_ROMPU"], "canal": "api"})
    local = Codec()
    with pytest.raises(UnknownFingerprint):
        local.decode(data)
    _, record = schema_record(newer.latest("contrat_rompu"))
    learned = local.learn(record)
    assert learned is not None and learned.fullname == "fr.hub.events.ContratRompu"
    assert local.decode(data) == SAMPLES["CONTRAT_ROMPU"]  # `canal` dropped: the local (v1) shape
    assert local.learn(record) is None  # known now
    _, known = schema_record(local.latest("contrat_rompu"))
    assert local.learn(known) is None  # the local version itself


def test_a_version_that_does_not_resolve_or_breaks_avro_rules_is_not_learned(schemas_copy: Path) -> None:
    local = Codec()
    retyped = json.loads((schemas_copy / "contrat_rompu.v1.avsc").read_text())
    next(f for f in retyped["fields"] if f["name"] == "numero_contrat")["type"] = "long"
    bad = {"name": "contrat_rompu", "version": 2, "schema": retyped}
    with pytest.raises(CodecError, match="cannot be read as contrat_rompu v1"):
        local.learn(json.dumps(bad).encode())
    broken = json.loads((schemas_copy / "contrat_rompu.v1.avsc").read_text())
    broken["fields"].append({"name": "x", "type": "int", "default": "zero"})
    with pytest.raises(CodecError, match="invalid Avro schema"):
        local.learn(json.dumps({"name": "contrat_rompu", "version": 2, "schema": broken}).encode())
    with pytest.raises(CodecError, match="not a schema record"):
        local.learn(b"{not json")
    with pytest.raises(CodecError, match="not a schema record"):
        local.learn(b'{"schema": 3}')
    # A schema this hub has no version of: nothing to read it into.
    other = {"type": "record", "name": "Other", "namespace": "org.elsewhere", "fields": [{"name": "a", "type": "int"}]}
    assert local.learn(json.dumps({"name": "other", "version": 1, "schema": other}).encode()) is None
