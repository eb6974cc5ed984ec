"""The worker reads events written with a newer schema version published on
`hub.schemas.v1` (hub/worker/schemas.py), on the real broker.

The scenario of the black-box audit: a connector one version ahead (contrat_rompu v2 =
v1 + an optional field) publishes its schema on `hub.schemas.v1`, then a rupture written
with it; a worker that has only v1 in its `schemas/` must open the RUPTURE case — not
skip the record and commit past it. Both ways the worker meets the version: already on
the topic when it starts, and published while it runs. A record whose schema is on
neither is skipped with an error naming its fingerprint, never silently.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from hub.avro import Codec, get_codec
from hub.avro.registry import schema_record
from hub.identity import case_id
from hub.kafka import client
from hub.kafka.topics import SCHEMAS
from hub.types.events import SOURCE_TOPICS
from tests.conftest import run_hub
from tests.worker import factory as f
from tests.worker.conftest import base, cases, produce, settings_for, start_worker, years_before

pytestmark = pytest.mark.kafka
D = timedelta(days=1)
SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"


def newer_codec(tmp_path: Path, unique: str) -> Codec:
    """The codec of a connector one version ahead: contrat_rompu v2 = v1 + an optional
    field (named after the test, so that each test publishes a version of its own)."""
    folder = tmp_path / "schemas-v2"
    shutil.copytree(SCHEMAS_DIR, folder)
    v1 = json.loads((folder / "contrat_rompu.v1.avsc").read_text())
    v1["fields"].append({"name": f"canal_{unique}", "type": ["null", "string"], "default": None})
    (folder / "contrat_rompu.v2.avsc").write_text(json.dumps(v1))
    return Codec(folder)


def publish(env: dict, codec: Codec, events: list[dict], *, schema: bool, watermarks: dict) -> None:
    """What the newer connector does: its schema on hub.schemas.v1 (unless `schema` is
    False), then its events, keyed by INE; then the clock (with the hub's own codec)."""

    async def go() -> None:
        producer = client.producer(settings_for(env))
        await producer.start()
        try:
            if schema:
                key, value = schema_record(codec.latest("contrat_rompu"))
                await producer.send_and_wait(SCHEMAS, value, key=key.encode())
            for e in events:
                await producer.send(SOURCE_TOPICS[e["source"]], codec.encode_event(e), key=e["person"]["ine"].encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(go())
    produce(env, watermarks=watermarks)


def rupture(env: dict, unique: str, tag: str) -> tuple[dict, str, str]:
    b = base(env)
    nom = f"{tag}{unique.upper()}"
    p = f.person(nom, dob=years_before(b, 17), ine=f.random_ine(), commune=f.POITIERS)
    event = f.contrat_rompu(p, b + 5 * D, debut=b - 100 * D, uai_cfa=f.CFA_86)
    return event, nom, case_id(p["ine"], "RUPTURE", b + 5 * D)


def opened(env: dict, nom: str) -> list[str]:
    return [json.loads(x)["case_id"] for x in cases(env, names=nom)]


def test_a_version_on_hub_schemas_before_the_worker_starts_is_read(worker_env, unique, tmp_path):
    env = worker_env
    event, nom, cid = rupture(env, unique, "SCHEMAV")
    publish(env, newer_codec(tmp_path, unique), [event], schema=True,
            watermarks={s: event["event_date"] + 20 * D for s in ("rectorat", "mission-locale", "cfa")})
    done = run_hub("worker", "--until-idle", env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert opened(env, nom) == [cid]
    assert "record skipped" not in done.stderr


def test_a_version_published_while_the_worker_runs_is_learned(worker_env, unique, tmp_path):
    env = worker_env
    proc = start_worker(env)
    try:
        time.sleep(8)  # the worker is up, with only v1
        event, nom, cid = rupture(env, unique, "SCHEMAW")
        publish(env, newer_codec(tmp_path, unique), [event], schema=True,
                watermarks={s: event["event_date"] + 20 * D for s in ("rectorat", "mission-locale", "cfa")})
        deadline = time.monotonic() + 90
        while opened(env, nom) != [cid] and time.monotonic() < deadline:
            time.sleep(1)
        assert opened(env, nom) == [cid]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    assert b"record skipped" not in err


def test_a_record_whose_schema_is_published_nowhere_is_skipped_with_an_error(worker_env, unique, tmp_path):
    env = worker_env
    event, nom, _ = rupture(env, unique, "SCHEMAN")
    codec = newer_codec(tmp_path, unique)
    publish(env, codec, [event], schema=False,
            watermarks={s: event["event_date"] + 20 * D for s in ("rectorat", "mission-locale", "cfa")})
    done = run_hub("worker", "--until-idle", env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert opened(env, nom) == []
    errors = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{") and '"error"' in x]
    fingerprint = codec.latest("contrat_rompu").fingerprint_hex
    assert any(e["event"].startswith("record skipped: its schema is on neither") and e["fingerprint"] == fingerprint
               for e in errors), done.stderr[-3000:]
    assert nom not in done.stderr  # no personal data in the log


def test_hub_cases_reads_cases_written_with_a_newer_case_schema(worker_env, unique, tmp_path):
    """A newer worker (case v2 = v1 + an optional field) wrote a case: `hub cases` of this
    version shows it, in its own shape, thanks to the schema on hub.schemas.v1."""
    from datetime import date

    env = worker_env
    folder = tmp_path / "schemas-case-v2"
    shutil.copytree(SCHEMAS_DIR, folder)
    v1 = json.loads((folder / "case.v1.avsc").read_text())
    v1["fields"].append({"name": f"priorite_{unique}", "type": ["null", "int"], "default": None})
    (folder / "case.v2.avsc").write_text(json.dumps(v1))
    newer = Codec(folder)
    nom = f"CASEV{unique.upper()}"
    person = {"ine": f.random_ine(), "nom": nom, "prenom": "Élodie", "date_naissance": date(2008, 2, 14),
              "commune_residence": "86194"}
    case = {"case_id": f"c-{unique}{'0' * 16}", "type": "RUPTURE", "status": "OUVERT", "outcome": None,
            "observatoire": "OBS-86", "assigned_to": {"role": "CTI_REGION", "code": "CTI-R-86-01"},
            "person": person, "opened_on": date(2026, 1, 10), "alerted_on": None, "closed_on": None,
            "periode_essai": False, "evidence": [], "transfers": []}

    async def go() -> None:
        producer = client.producer(settings_for(env))
        await producer.start()
        try:
            key, value = schema_record(newer.latest("case"))
            await producer.send_and_wait(SCHEMAS, value, key=key.encode())
            await producer.send_and_wait("cases.v1", newer.encode("case", {**case, f"priorite_{unique}": 2}),
                                         key=case["case_id"].encode())
        finally:
            await producer.stop()

    asyncio.run(go())
    lines = cases(env, names=nom)
    assert [json.loads(x)["case_id"] for x in lines] == [case["case_id"]]
    assert f"priorite_{unique}" not in lines[0]


def test_records_that_are_not_hub_events_are_skipped_each_with_a_warning(worker_env, unique):
    """Another producer's bytes on a source topic (not Avro, JSON, a cut single-object
    message, an empty value, a tombstone), on the person's own key and before their
    rupture: each is skipped with a warning naming where it is (topic, partition, offset)
    and no personal data; the worker neither stops nor loses the person's real event."""
    env = worker_env
    event, nom, cid = rupture(env, unique, "FOREIGN")
    good = get_codec().encode_event(event)
    foreign = [b"not avro at all", json.dumps({"nom": nom}).encode(), good[:12], good + b"\x00", b"", None]

    async def go() -> list[tuple[int, int]]:
        producer = client.producer(settings_for(env))
        await producer.start()
        try:
            sent = [await producer.send_and_wait(SOURCE_TOPICS["cfa"], value, key=event["person"]["ine"].encode())
                    for value in [*foreign, good]]
        finally:
            await producer.stop()
        return [(m.partition, m.offset) for m in sent]

    *bad, real = asyncio.run(go())
    produce(env, watermarks={s: event["event_date"] + 20 * D for s in ("rectorat", "mission-locale", "cfa")})
    done = run_hub("worker", "--until-idle", env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert opened(env, nom) == [cid]
    logs = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    # (the other tests of the module share the broker: their records may be skipped too)
    skipped = {(e["partition"], e["offset"]) for e in logs
               if e["event"].startswith("record skipped") and e["topic"] == SOURCE_TOPICS["cfa"]}
    assert set(bad) <= skipped and real not in skipped, done.stderr[-3000:]
    assert nom not in done.stderr  # the JSON record's name is not logged
