"""`hub ingest` and `hub dlq` on the real broker, through the command line.

The broker is shared by the session, so every test uses its own establishment (UAJ),
identities and numbers, and looks only at its own events.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from hub.avro import get_codec
from hub.kafka import client
from hub.kafka.compacted import read_until_end
from hub.kafka.embedded import REPO_ROOT
from tests.conftest import run_hub
from tests.connectors.helpers import siret, uai, write_csv
from tests.connectors.siecle_files import eleve, export, write

pytestmark = pytest.mark.kafka

SAMPLE = REPO_ROOT / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"


@pytest.fixture
def env(hub_env):
    assert run_hub("directory", "load", str(SAMPLE), env=hub_env).returncode == 0
    return hub_env


def ingest(env, source: str, path: Path, *extra: str) -> dict:
    result = run_hub("ingest", source, str(path), "--json", *extra, env=env)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts["read"] == counts["published"] + counts["unchanged"] + counts["filtered"] + counts["rejected"]
    return counts


async def events_of(topic: str, predicate) -> list[dict]:
    codec = get_codec()
    found = []
    async for record in read_until_end(topic):
        event = codec.decode(record.value)
        if predicate(event):
            found.append(event)
    return found


async def end_offsets(topic: str) -> int:
    consumer = client.consumer()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await client.topic_partitions(consumer, topic)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await client.stop_consumer(consumer)


def fresh_uaj() -> str:
    return uai(f"086{random.randrange(10_000):04d}")


async def test_siecle_snapshots_live_in_kafka(env, tmp_path):
    uaj = fresh_uaj()
    first = write(tmp_path / "s1.xml", export([
        eleve("1", nom="ALPHA"),
        eleve("2", nom="BRAVO", sortie="10/01/2026", motif="05"),
        eleve("3", nom="CHARLIE"),
    ], uaj=uaj))
    assert ingest(env, "rectorat", first) | {"source": None, "as_of": None} == {
        "source": None, "read": 3, "published": 3, "unchanged": 0, "filtered": 0, "rejected": 0,
        "warnings": 0, "events": 4, "as_of": None}
    again = ingest(env, "rectorat", first)
    assert (again["unchanged"], again["events"]) == (3, 0)

    # A file cut in the middle: exit 2, one line, nothing published, state untouched.
    good = export([eleve("3", nom="CHARLIE", sortie="01/04/2026", motif="02"), eleve("4", nom="DELTA")],
                  uaj=uaj, date_export="15/04/2026")
    before = await end_offsets("rectorat.eleves.v1")
    cut = run_hub("ingest", "rectorat", str(write(tmp_path / "cut.xml", good[: len(good) // 2])), env=env)
    assert cut.returncode == 2 and cut.stderr.count("\n") == 1
    assert await end_offsets("rectorat.eleves.v1") == before

    # Another machine (another HUB_HOME) diffs against the snapshot kept on Kafka:
    # ALPHA disappeared (exit 99 at the export date), CHARLIE left (02), DELTA arrived.
    other = dict(env, HUB_HOME=str(tmp_path / "other-machine"))
    second = ingest(other, "rectorat", write(tmp_path / "s2.xml", good))
    assert second["events"] == 3
    mine = await events_of("rectorat.eleves.v1", lambda e: e["uai"] == uaj)
    summary = sorted((e["event_type"], e["eleve_id"], e.get("motif_sortie"), e["event_date"].isoformat()) for e in mine)
    assert summary == [
        ("ELEVE_INSCRIT", "1", None, "2025-09-02"),
        ("ELEVE_INSCRIT", "2", None, "2025-09-02"),
        ("ELEVE_INSCRIT", "3", None, "2025-09-02"),
        ("ELEVE_INSCRIT", "4", None, "2025-09-02"),
        ("ELEVE_SORTI", "1", "99", "2026-04-15"),
        ("ELEVE_SORTI", "2", "05", "2026-01-10"),
        ("ELEVE_SORTI", "3", "02", "2026-04-01"),
    ]


async def test_hostile_xml_is_refused_whole(env, tmp_path):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                    "<BEE_ELEVES>&lol2;</BEE_ELEVES>")
    result = run_hub("ingest", "rectorat", str(bomb), env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


CFA_HEADER = ("numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;"
              "evenement;date_evenement;date_debut_contrat;cause_rupture")


async def test_csv_rejections_reach_the_dlq_with_their_reason(env, tmp_path):
    n = random.randrange(10**6)
    cfa = uai("0861234")
    rows = [
        f"DECA-{n}-1;{cfa};{siret('7328293200007')};;MARTIN;Léa;01/03/2008;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",
        f"DECA-{n}-2;{cfa};12345678901234;;MARTIN;Léa;01/03/2008;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",
        f"DECA-{n}-3;0861234A;{siret('7328293200007')};;MARTIN;Léa;01/03/2008;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",
        f"DECA-{n}-4;{cfa};;;MARTIN;Léa;31/02/2008;86194;N;CONTRAT_ROMPU;01/10/2025;01/09/2025;",
    ]
    path = write_csv(tmp_path / f"cfa-{n}.csv", CFA_HEADER, rows)
    counts = ingest(env, "cfa", path)
    assert (counts["published"], counts["rejected"]) == (1, 3)
    assert ingest(env, "cfa", path)["unchanged"] == 1
    letters = run_hub("dlq", "list", "cfa", "--json", env=env)
    mine = [json.loads(line) for line in letters.stdout.splitlines() if f"cfa-{n}.csv" in line]
    assert sorted((m["position"], m["reason"]) for m in mine[:3]) == [
        ("line 3", "BAD_SIRET"), ("line 4", "BAD_UAI"), ("line 5", "BAD_DATE")]
    assert all(m["raw"].startswith(f"DECA-{n}-") for m in mine)


async def test_dlq_replay_after_a_directory_fix(env, tmp_path):
    n = random.randrange(10**6)
    header = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;"
              "date_evenement;dispositif;situation")
    path = write_csv(tmp_path / "ml.csv", header,
                     [f"ML-86-NEW;M{n};;RENARD;Zoé;05/05/2008;86194;PREMIER_ACCUEIL;01/03/2026;;"])
    assert ingest(env, "mission-locale", path)["rejected"] == 1

    import yaml

    doc = yaml.safe_load(SAMPLE.read_text())
    doc["missions_locales"].append({"code": "ML-86-NEW", "nom": "Mission locale nouvelle",
                                    "observatoire": "OBS-86", "communes": ["86999"]})
    fixed = tmp_path / "annuaire.yaml"
    fixed.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        assert run_hub("directory", "load", str(fixed), env=env).returncode == 0
        replay = run_hub("dlq", "replay", "mission-locale", env=env)
        assert replay.returncode == 0, replay.stderr
        published = await events_of("missions-locales.jeunes.v1", lambda e: e["identifiant_milo"] == f"M{n}")
        assert len(published) == 1 and published[0]["code_ml"] == "ML-86-NEW"
        # Replayed once: a second replay does not publish it again.
        assert run_hub("dlq", "replay", "mission-locale", env=env).returncode == 0
        assert len(await events_of("missions-locales.jeunes.v1", lambda e: e["identifiant_milo"] == f"M{n}")) == 1
    finally:
        run_hub("directory", "load", str(SAMPLE), env=env)


async def test_watermark_only_moves_forward(env, tmp_path):
    from hub.kafka.watermarks import read_watermarks

    header = "uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees"
    lp = uai("0860012")
    late = write_csv(tmp_path / "a.csv", header, [f"{lp};;NOEL;Zoé;05/05/2008;2031-05;4;0"])
    early = write_csv(tmp_path / "b.csv", header, [f"{lp};;NOEL;Zoé;05/05/2008;2031-03;4;0"])
    assert ingest(env, "absenteisme", late)["as_of"] == "2031-05-31"
    assert ingest(env, "absenteisme", early)["published"] == 1
    assert (await read_watermarks())["absenteisme"].isoformat() == "2031-05-31"


async def test_reingesting_an_older_export_is_harmless(env, tmp_path):
    """inputs.md: re-ingesting a file is harmless — even an older snapshot after newer ones."""
    uaj = fresh_uaj()
    jan = write(tmp_path / "jan.xml", export([eleve("1", nom="ALPHA"), eleve("2", nom="BRAVO"), eleve("3", nom="CHARLIE")],
                                             uaj=uaj, date_export="15/01/2026"))
    apr = write(tmp_path / "apr.xml", export([eleve("1", nom="ALPHA"), eleve("3", nom="CHARLIE", sortie="01/03/2026", motif="02")],
                                             uaj=uaj, date_export="15/04/2026"))
    jun = write(tmp_path / "jun.xml", export([eleve("3", nom="CHARLIE", sortie="01/03/2026", motif="02"), eleve("4", nom="DELTA")],
                                             uaj=uaj, date_export="30/06/2026"))
    for path in (jan, apr, jun):
        ingest(env, "rectorat", path)
    before = sorted((e["event_type"], e["eleve_id"], e["event_date"].isoformat())
                    for e in await events_of("rectorat.eleves.v1", lambda e: e["uai"] == uaj))
    for path in (jan, apr, jun):
        again = ingest(env, "rectorat", path)
        assert again["events"] == 0 and again["published"] == 0, (path.name, again)
    after = sorted((e["event_type"], e["eleve_id"], e["event_date"].isoformat())
                   for e in await events_of("rectorat.eleves.v1", lambda e: e["uai"] == uaj))
    assert after == before
