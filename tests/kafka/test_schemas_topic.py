"""`hub topics apply` publishes every schema on hub.schemas.v1, resolvable by fingerprint."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime

import pytest

from hub.avro import get_codec
from hub.avro.codec import read_header
from hub.avro.loader import load_dir
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


CFA_HEADER = ("numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;"
              "evenement;date_evenement;date_debut_contrat;cause_rupture")


async def test_directory_load_and_ingest_publish_the_schemas_without_topics_apply(fresh_hub_env, tmp_path):
    from hub.kafka import client
    from hub.kafka.compacted import read_until_end
    from hub.kafka.embedded import REPO_ROOT
    from tests.connectors.helpers import siret, uai, write_csv

    env = fresh_hub_env
    load = run_hub("directory", "load", str(REPO_ROOT / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"), env=env)
    assert load.returncode == 0, load.stderr
    codec = get_codec()
    fingerprints = {v.fingerprint_hex.encode() for v in codec}
    assert fingerprints <= set(await read_table(SCHEMAS))

    # As on a topic created before the hub published there, or before an upgrade added
    # a version: the fingerprints are gone, and the next ingest puts them back.
    producer = await client.started(client.producer())
    try:
        for fingerprint in fingerprints:
            await producer.send(SCHEMAS, None, key=fingerprint)
        await producer.flush()
    finally:
        await producer.stop()
    assert not fingerprints & set(await read_table(SCHEMAS))

    path = write_csv(tmp_path / "cfa.csv", CFA_HEADER, [
        f"DECA-1;{uai('0861234')};{siret('7328293200007')};;MARTIN;Léa;01/03/2008;86194;N;"
        "CONTRAT_SIGNE;01/09/2025;01/09/2025;"])
    result = run_hub("ingest", "cfa", str(path), "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["published"] == 1

    table = await read_table(SCHEMAS)
    published = [record.value async for record in read_until_end("cfa.contrats.v1")]
    assert len(published) == 1
    for message in published:  # what a consumer in another institution does
        record = json.loads(table[message[2:10].hex().encode()])
        assert record["name"] == "contrat_signe"
    assert fingerprints <= set(table)

    # A schemas/ whose watermark v1 was rewritten in place met this topic: publishing
    # would give one name and version two meanings. The command says so and publishes
    # nothing.
    edited = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", edited)
    watermark = json.loads((edited / "watermark.v1.avsc").read_text())
    watermark["fields"].append({"name": "note", "type": "string"})
    (edited / "watermark.v1.avsc").write_text(json.dumps(watermark))
    (edited / "published.json").unlink()  # as a checkout that never froze it would be
    again = write_csv(tmp_path / "cfa2.csv", CFA_HEADER, [
        f"DECA-2;{uai('0861234')};{siret('7328293200007')};;MARTIN;Léa;01/03/2008;86194;N;"
        "CONTRAT_SIGNE;01/10/2025;01/10/2025;"])
    result = run_hub("ingest", "cfa", str(again), "--json", env={**env, "HUB_SCHEMAS_DIR": str(edited)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith(
        "watermark v1: hub.schemas.v1 holds it with fingerprint 0198e3f970c047d2, schemas/ has it with "
        f"{load_dir(edited)['watermark'][0].fingerprint_hex}: a published version never changes, add a new version")
    assert len([record async for record in read_until_end("cfa.contrats.v1")]) == 1
