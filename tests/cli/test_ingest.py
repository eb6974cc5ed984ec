"""`hub ingest` and `hub dlq` on the real broker, through the command line.

The broker is shared by the session, so every test uses its own establishment (UAJ),
identities and numbers, and looks only at its own events.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from hub.avro import get_codec
from hub.kafka import client
from hub.kafka.compacted import read_until_end
from hub.kafka.embedded import REPO_ROOT
from tests.cli.test_ingest_sources import Watch
from tests.conftest import run_hub
from tests.connectors.helpers import fresh_uai, siret, uai, write_csv
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
    return fresh_uai()


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


@contextlib.contextmanager
def directory_with_ml(env, tmp_path: Path, code: str, commune: str) -> Iterator[None]:
    """The sample directory plus one Mission locale of OBS-86 covering `commune`, loaded
    for the block; the sample is loaded back after it."""
    import yaml

    doc = yaml.safe_load(SAMPLE.read_text())
    doc["missions_locales"].append({"code": code, "nom": "Mission locale de test", "observatoire": "OBS-86",
                                    "communes": [commune]})
    fixed = tmp_path / "annuaire.yaml"
    fixed.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        assert run_hub("directory", "load", str(fixed), env=env).returncode == 0
        yield
    finally:
        run_hub("directory", "load", str(SAMPLE), env=env)


async def test_dlq_replay_after_a_directory_fix(env, tmp_path):
    n = random.randrange(10**6)
    header = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;"
              "date_evenement;dispositif;situation")
    path = write_csv(tmp_path / "ml.csv", header,
                     [f"ML-86-NEW;M{n};;RENARD;Zoé;05/05/2008;86194;PREMIER_ACCUEIL;01/03/2026;;"])
    assert ingest(env, "mission-locale", path)["rejected"] == 1

    with directory_with_ml(env, tmp_path, "ML-86-NEW", "86999"):
        replay = run_hub("dlq", "replay", "mission-locale", env=env)
        assert replay.returncode == 0, replay.stderr
        published = await events_of("missions-locales.jeunes.v1", lambda e: e["identifiant_milo"] == f"M{n}")
        assert len(published) == 1 and published[0]["code_ml"] == "ML-86-NEW"
        # It published a person key with the public default secret: it says so, as `hub ingest`.
        assert "HUB_PSEUDONYM_SECRET is not set" in replay.stderr
        # Replayed once: a second replay does not publish it again.
        assert run_hub("dlq", "replay", "mission-locale", env=env).returncode == 0
        assert len(await events_of("missions-locales.jeunes.v1", lambda e: e["identifiant_milo"] == f"M{n}")) == 1


async def test_dlq_lists_each_pending_record_once(env, tmp_path):
    """A re-ingest writes its rejected records again, a replay that still fails too: `hub
    dlq list` shows each record once, with its latest reason, and no longer lists one a
    replay published; `--all` keeps the whole history. A replay takes a repeated record
    once."""
    n = random.randrange(10**6)
    header = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;"
              "date_evenement;dispositif;situation")
    path = write_csv(tmp_path / f"ml-twice-{n}.csv", header, [
        f"ML-86-TWICE;T{n};;RENARD;Zoé;05/05/2008;86194;PREMIER_ACCUEIL;01/03/2026;;",  # unknown ML: fixable
        f"ML-86-POI;U{n};;RENARD;Zoé;31/02/2008;86194;PREMIER_ACCUEIL;01/03/2026;;",  # BAD_DATE
    ])

    def pending(*flags: str) -> list[tuple[str, str]]:
        out = run_hub("dlq", "list", "mission-locale", "--json", *flags, env=env)
        assert out.returncode == 0, out.stderr
        return sorted((x["position"], x["reason"]) for x in map(json.loads, out.stdout.splitlines())
                      if x["file"] == path.name)

    for _ in range(2):
        assert ingest(env, "mission-locale", path)["rejected"] == 2
    assert pending() == [("line 2", "BAD_VALUE"), ("line 3", "BAD_DATE")]
    assert len(pending("--all")) == 4
    with directory_with_ml(env, tmp_path, "ML-86-TWICE", "86997"):
        async with Watch("mission-locale") as w:
            replay = run_hub("dlq", "replay", "mission-locale", env=env)
            assert replay.returncode == 0, replay.stderr
            published = [e for _, e in await w.events() if e["identifiant_milo"] == f"T{n}"]
            again = [x for x in await w.letters() if x["file"] == path.name]
        assert len(published) == 1 and "doublons ignorés" in replay.stdout
        assert [(x["position"], x["reason"]) for x in again] == [("line 3", "BAD_DATE")]  # once, not twice
        assert pending() == [("line 3", "BAD_DATE")]
        assert len(pending("--all")) == 5


async def test_siecle_reingest_counts_an_under_15_pupil_filtered(env, tmp_path):
    """inputs.md: `unchanged` is "already published before". A pupil filtered on the first
    ingest was never published: every re-ingest counts them `filtered` again."""
    uaj = fresh_uaj()
    path = write(tmp_path / f"young-{uaj}.xml", export([
        eleve("1", nom="ALPHA"), eleve("2", nom="BRAVO"), eleve("3", nom="CADET", naiss="01/01/2012")], uaj=uaj))
    first = ingest(env, "rectorat", path)
    assert (first["read"], first["published"], first["filtered"]) == (3, 2, 1)
    again = ingest(env, "rectorat", path)
    assert again["filtered"] == 1 and again["unchanged"] == again["read"] - 1 == 2
    assert (again["published"], again["rejected"], again["events"]) == (0, 0, 0)


async def test_rectorat_dlq_replay_validates_as_the_ingest_did(env, tmp_path):
    """The dead letter of a SIECLE pupil carries its file's UAJ (from PARAMETRES) and
    as-of: a replay finds the same reason, not a missing UAJ, a pupil dated after the
    export stays FUTURE_DATE, and a repeated ELEVE_ID (valid alone) stays refused."""
    uaj = fresh_uaj()
    path = write(tmp_path / f"dlq-{uaj}.xml", export([
        eleve("1", nom="ALPHA"), eleve("2", nom="BRAVO", prenom=""), eleve("3", nom="CHARLIE", entree="16/03/2026"),
        eleve("1", nom="ALPHA", prenom="Autre"),
    ], uaj=uaj, date_export="15/03/2026"))
    async with Watch("rectorat") as w:
        counts = ingest(env, "rectorat", path)
        assert (counts["published"], counts["rejected"]) == (1, 3)
        first = {x["position"]: x for x in await w.letters() if x["file"] == path.name}
    assert {p: x["reason"] for p, x in first.items()} == {
        "ELEVE[2]": "MISSING_FIELD", "ELEVE[3]": "FUTURE_DATE", "ELEVE[4]": "BAD_VALUE"}
    assert {(x["row"]["uaj"], x["row"]["@as_of"]) for x in first.values()} == {(uaj, "2026-03-15")}
    async with Watch("rectorat") as w:
        replay = run_hub("dlq", "replay", "rectorat", env=env)
        assert replay.returncode == 0, replay.stderr
        again = {x["position"]: x for x in await w.letters() if x["file"] == path.name}
        assert not [e for _, e in await w.events() if e["uai"] == uaj]
    assert {p: (x["reason"], x["detail"]) for p, x in again.items()} == {
        p: (x["reason"], x["detail"]) for p, x in first.items()}
    assert {p: x["row"] for p, x in again.items()} == {p: x["row"] for p, x in first.items()}


async def test_dlq_replay_checks_against_the_ingest_as_of(env, tmp_path):
    """A dead letter is replayed against the as-of of its ingest: after a directory fix,
    a record dated up to it is published, one dated after it is (or stays) FUTURE_DATE."""
    n = random.randrange(10**6)
    header = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;"
              "date_evenement;dispositif;situation")
    rows = [
        f"ML-86-ASOF;A{n};;RENARD;Zoé;05/05/2008;86194;PREMIER_ACCUEIL;01/03/2026;;",  # unknown ML
        f"ML-86-POI;B{n};;RENARD;Zoé;05/05/2008;86194;PREMIER_ACCUEIL;20/03/2026;;",  # FUTURE_DATE
        f"ML-86-ASOF;C{n};;RENARD;Zoé;05/05/2008;86194;PREMIER_ACCUEIL;20/03/2026;;",  # unknown ML, and after
    ]
    path = write_csv(tmp_path / f"ml-asof-{n}.csv", header, rows)
    async with Watch("mission-locale") as w:
        counts = ingest(env, "mission-locale", path, "--as-of", "2026-03-15")
        assert (counts["rejected"], counts["as_of"]) == (3, "2026-03-15")
        first = {x["position"]: x for x in await w.letters() if x["file"] == path.name}
    assert {p: x["reason"] for p, x in first.items()} == {
        "line 2": "BAD_VALUE", "line 3": "FUTURE_DATE", "line 4": "BAD_VALUE"}

    with directory_with_ml(env, tmp_path, "ML-86-ASOF", "86998"):
        async with Watch("mission-locale") as w:
            replay = run_hub("dlq", "replay", "mission-locale", env=env)
            assert replay.returncode == 0, replay.stderr
            published = [e["identifiant_milo"] for _, e in await w.events() if e["identifiant_milo"].endswith(str(n))]
            again = {x["position"]: x for x in await w.letters() if x["file"] == path.name}
        assert published == [f"A{n}"]
        assert {p: x["reason"] for p, x in again.items()} == {"line 3": "FUTURE_DATE", "line 4": "FUTURE_DATE"}
        assert again["line 3"]["detail"] == first["line 3"]["detail"]


async def test_a_dead_letter_a_later_ingest_published_awaits_nothing(env, tmp_path):
    """A record refused FUTURE_DATE, then published by an ingest of the same file with a
    later as-of: `hub dlq list` no longer shows it, and a replay counts it unchanged
    instead of writing it to the dead-letter topic again."""
    n = random.randrange(10**6)
    header = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;"
              "date_evenement;dispositif;situation")
    path = write_csv(tmp_path / f"ml-later-{n}.csv", header, [
        f"ML-86-POI;L{n};;RENARD;Zoé;05/05/2008;86194;PREMIER_ACCUEIL;20/03/2026;;",
        f"ML-86-POI;M{n};;RENARD;Zoé;31/02/2008;86194;PREMIER_ACCUEIL;01/03/2026;;",  # BAD_DATE: stays
    ])

    def pending() -> list[tuple[str, str]]:
        out = run_hub("dlq", "list", "mission-locale", "--json", env=env)
        assert out.returncode == 0, out.stderr
        return sorted((x["position"], x["reason"]) for x in map(json.loads, out.stdout.splitlines())
                      if x["file"] == path.name)

    assert ingest(env, "mission-locale", path, "--as-of", "2026-03-15")["rejected"] == 2
    assert pending() == [("line 2", "FUTURE_DATE"), ("line 3", "BAD_DATE")]
    assert ingest(env, "mission-locale", path, "--as-of", "2026-03-31")["published"] == 1
    assert pending() == [("line 3", "BAD_DATE")]
    async with Watch("mission-locale") as w:
        replay = run_hub("dlq", "replay", "mission-locale", env=env)
        assert replay.returncode == 0, replay.stderr
        again = [(x["position"], x["reason"]) for x in await w.letters() if x["file"] == path.name]
    assert again == [("line 3", "BAD_DATE")]  # not line 2 again


async def test_default_as_of_counts_rejected_rows(env, tmp_path):
    """inputs.md: the default as-of is the latest date in the file. A record rejected for
    another reason than its date still has one: every record rejected, the file still
    publishes its watermark at that date (CTI: not a clock source, so other tests' clock
    is left alone)."""
    from hub.kafka.watermarks import read_watermarks

    n = random.randrange(10**6)
    lp = uai("0860012")
    jeune = {"nom": f"R{n}", "prenom": "Zoé", "date_naissance": "2008-05-05"}
    lines = [
        {"cti": "CTI-INCONNU", "uai": lp, "type": "REPERAGE", "date": "2030-06-15", "reference": f"a-{n}", "jeune": jeune},
        {"cti": "CTI-E-86-01", "uai": "0860012A", "type": "REPERAGE", "date": "2030-06-10", "reference": f"b-{n}",
         "jeune": jeune},
        {"cti": "CTI-E-86-01", "uai": lp, "type": "REPERAGE", "date": "2030-06-31", "reference": f"c-{n}", "jeune": jeune},
    ]
    path = tmp_path / f"cti-{n}.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    counts = ingest(env, "cti", path)
    assert (counts["rejected"], counts["as_of"]) == (3, "2030-06-15")
    assert (await read_watermarks())["cti"].isoformat() == "2030-06-15"
    # and a CFA file whose latest-dated row has a bad SIRET
    cfa = uai("0861234")
    rows = [f"DECA-{n}-1;{cfa};{siret('7328293200007')};;MARTIN;Léa;01/03/2008;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",
            f"DECA-{n}-2;{cfa};12345678901234;;MARTIN;Léa;01/03/2008;86194;N;CONTRAT_SIGNE;03/09/2025;01/09/2025;"]
    counts = ingest(env, "cfa", write_csv(tmp_path / f"cfa-{n}.csv", CFA_HEADER, rows))
    assert (counts["published"], counts["rejected"], counts["as_of"]) == (1, 1, "2025-09-03")


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


async def test_ingest_on_a_broker_nobody_prepared(fresh_hub_env, tmp_path):
    """No `hub topics apply`, no directory: the ingest creates what it needs."""
    from hub.kafka.compacted import read_table
    from hub.kafka.topics import SCHEMAS, declared_topics

    rows = [f"DECA-1;{uai('0861234')};{siret('7328293200007')};;MARTIN;Léa;01/03/2008;86194;N;"
            "CONTRAT_SIGNE;01/09/2025;01/09/2025;"]
    result = run_hub("ingest", "cfa", str(write_csv(tmp_path / "cfa.csv", CFA_HEADER, rows)), "--json",
                     env=fresh_hub_env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["published"] == 1
    # Nothing on stderr but the public pseudonym secret's warning, then nothing at all
    # with a secret of the installation's own.
    (line,) = result.stderr.splitlines()
    assert json.loads(line)["event"].startswith("HUB_PSEUDONYM_SECRET is not set: the keys of people")
    rows = [rows[0].replace("DECA-1", "DECA-2")]
    result = run_hub("ingest", "cfa", str(write_csv(tmp_path / "cfa2.csv", CFA_HEADER, rows)), "--json",
                     env={**fresh_hub_env, "HUB_PSEUDONYM_SECRET": "s3cret-of-this-installation"}, timeout=120)
    assert result.returncode == 0 and json.loads(result.stdout)["published"] == 1
    assert result.stderr == ""
    admin = client.admin()
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    assert {s.name for s in declared_topics()} <= existing
    assert {v.fingerprint_hex.encode() for v in get_codec()} <= set(await read_table(SCHEMAS))
    assert len(await events_of("cfa.contrats.v1", lambda e: True)) == 2


@contextlib.contextmanager
def holding_source_lock(env, source: str) -> Iterator[None]:
    """The lock a publishing run of `source` takes (hub/locks.py), held by the test."""
    import fcntl

    folder = Path(env["HUB_HOME"]) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{source}.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _start_hub(env, *args: str):
    import subprocess

    from tests.conftest import hub_exe

    return subprocess.Popen([hub_exe(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_two_ingests_of_one_file_at_once_take_turns_and_publish_once(env, tmp_path):
    import time

    n = random.randrange(10**6)
    header = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;"
              "date_evenement;dispositif;situation")
    rows = [f"ML-86-POI;T{n}-{i};;TOUR{i};Zoé;05/05/2008;86194;PREMIER_ACCUEIL;01/03/2026;;" for i in range(300)]
    path = write_csv(tmp_path / "ml.csv", header, rows)
    with holding_source_lock(env, "mission-locale"):
        runs = [_start_hub(env, "ingest", "mission-locale", str(path), "--json") for _ in range(2)]
        time.sleep(3)
        assert [r.poll() for r in runs] == [None, None]  # both wait for the run holding the lock
    outputs = [r.communicate(timeout=120) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    assert all("attente de sa fin" in err for _, err in outputs)
    counts = sorted((json.loads(out)["published"], json.loads(out)["unchanged"]) for out, _ in outputs)
    assert counts == [(0, 300), (300, 0)]  # one after the other: the second finds them all
    published = await events_of("missions-locales.jeunes.v1", lambda e: e["identifiant_milo"].startswith(f"T{n}-"))
    assert len(published) == 300


async def test_a_dlq_replay_waits_for_an_ingest_of_its_source(env, tmp_path):
    import time

    with holding_source_lock(env, "cti"):
        run = _start_hub(env, "dlq", "replay", "cti")
        time.sleep(3)
        assert run.poll() is None
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert "hub dlq replay : une autre publication de la source cti est en cours" in err
