"""Every source end to end on the real broker: counts, dead letters, re-ingests, encodings,
file-level errors, SIECLE specifics, and a malformed line in a 100,000-line file.

Complements `test_ingest.py` (SIECLE snapshots on Kafka, truncated XML, billion laughs,
DLQ replay, watermarks). Runs go through `hub ingest ... --json` in a subprocess when
the exit status and stderr matter, otherwise through `hub.cli.ingest.ingest_path` in
process, which wires the same Kafka sink, seen-events and snapshot stores. The broker is
shared by the session: every test has its own file names, identities, UAJs and numbers,
and looks only at what was written after the offsets it noted before its run.
"""

from __future__ import annotations

import json
import os
import random
from datetime import date
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from hub.avro import get_codec
from hub.cli.ingest import ingest_path
from hub.kafka import client
from hub.kafka.embedded import REPO_ROOT
from hub.kafka.sink import murmur2
from tests.conftest import run_hub
from tests.connectors.helpers import fresh_uai, siret, write_csv
from tests.connectors.siecle_files import eleve, export, write

pytestmark = pytest.mark.kafka

SAMPLE = REPO_ROOT / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"
ML = "ML-86-POI"  # in the sample directory
CTI = "CTI-E-86-01"  # in the sample directory

TOPICS = {
    "rectorat": "rectorat.eleves.v1",
    "absenteisme": "rectorat.absenteisme.v1",
    "mission-locale": "missions-locales.jeunes.v1",
    "cfa": "cfa.contrats.v1",
    "cti": "cti.signalements.v1",
}

ABS_HEADER = "uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees"
ML_HEADER = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;"
             "date_evenement;dispositif;situation")
CFA_HEADER = ("numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;"
              "evenement;date_evenement;date_debut_contrat;cause_rupture")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def directory_loaded(kafka_broker, tmp_path_factory):
    """The sample directory, loaded once for the module (ML and CTI need it)."""
    env = dict(os.environ, HUB_KAFKA_BOOTSTRAP=kafka_broker, HUB_HOME=str(tmp_path_factory.mktemp("dirhome")))
    result = run_hub("directory", "load", str(SAMPLE), env=env)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def env(hub_env, directory_loaded):
    return hub_env


def tag() -> str:
    """Unique letters for names and numbers of one test (names keep to letters)."""
    return "".join(random.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))


def an_ine() -> str:
    return f"{random.randrange(10**9):09d}" + random.choice("ABCDEFGHJK") + random.choice("ABCDEFGHJK")


async def ingest(source: str, path: Path, as_of: date | None = None) -> dict:
    """One run in process, with the real Kafka sink, seen events and snapshot store."""
    result = await ingest_path(source, path, as_of)
    counts = result.to_json()
    assert counts["read"] == counts["published"] + counts["unchanged"] + counts["filtered"] + counts["rejected"]
    return counts


def counts_of(c: dict) -> tuple[int, ...]:
    return (c["read"], c["published"], c["unchanged"], c["filtered"], c["rejected"], c["warnings"], c["events"])


async def offsets(topic: str) -> dict[TopicPartition, int]:
    consumer = client.consumer()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await client.topic_partitions(consumer, topic)]
        return dict(await consumer.end_offsets(tps))
    finally:
        await client.stop_consumer(consumer)


async def records_since(topic: str, before: dict[TopicPartition, int]) -> list:
    """Every record written to `topic` after the offsets `before` (up to its end now)."""
    ends = await offsets(topic)
    todo = {tp: (before.get(tp, 0), end) for tp, end in ends.items() if end > before.get(tp, 0)}
    if not todo:
        return []
    consumer = client.consumer()
    await consumer.start()
    found = []
    try:
        consumer.assign(list(todo))
        for tp, (start, _) in todo.items():
            consumer.seek(tp, start)
        remaining = set(todo)
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                found += [r for r in records if r.offset < todo[tp][1]]
            for tp in list(remaining):
                if await consumer.position(tp) >= todo[tp][1]:
                    remaining.discard(tp)
    finally:
        await client.stop_consumer(consumer)
    return found


async def events_since(topic: str, before) -> list[tuple[str, dict]]:
    codec = get_codec()
    return [(r.key.decode(), codec.decode(r.value)) for r in await records_since(topic, before)]


async def letters_since(source: str, before) -> list[dict]:
    codec = get_codec()
    return [codec.decode(r.value) for r in await records_since(TOPICS[source] + ".dlq", before)]


class Watch:
    """End offsets of a source topic and its DLQ, noted before a run."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.topic = TOPICS[source]

    async def __aenter__(self) -> Watch:
        self.events_before = await offsets(self.topic)
        self.dlq_before = await offsets(self.topic + ".dlq")
        return self

    async def __aexit__(self, *exc) -> None:
        return None

    async def events(self) -> list[tuple[str, dict]]:
        return await events_since(self.topic, self.events_before)

    async def letters(self) -> list[dict]:
        return await letters_since(self.source, self.dlq_before)

    async def unchanged(self) -> bool:
        return (await offsets(self.topic) == self.events_before
                and await offsets(self.topic + ".dlq") == self.dlq_before)


def dlq_summary(letters: list[dict]) -> list[tuple[str, str, str]]:
    return sorted((x["file"], x["position"], x["reason"]) for x in letters)


def check_letters(letters: list[dict], path: Path, expected: dict[str, str], lines: dict[str, str]) -> None:
    """Each dead letter names the file, the position and the reason, and carries the raw
    record; `expected` maps position → reason, `lines` position → raw text."""
    assert dlq_summary(letters) == sorted((path.name, pos, reason) for pos, reason in expected.items())
    for letter in letters:
        assert letter["source"] in TOPICS
        assert letter["raw"] == lines[letter["position"]]
        assert letter["detail"]


def numbered(rows: list[str], first_line: int = 2) -> dict[str, str]:
    return {f"line {first_line + i}": row for i, row in enumerate(rows)}


# --------------------------------------------------------------------------- clean files


def clean_rows(source: str, t: str, n: int) -> list[str]:
    lp, cfa = fresh_uai(), fresh_uai()
    rows = []
    for i in range(n):
        ine = an_ine() if i % 2 else ""
        if source == "absenteisme":
            rows.append(f"{lp};{ine};NOM{t}{i};Zoé;0{1 + i % 9}/05/2008;2026-01;{i};1")
        elif source == "mission-locale":
            rows.append(f"{ML};M{t}{i};{ine};NOM{t}{i};Zoé;05/05/2008;86194;SITUATION;0{1 + i % 9}/02/2026;;EMPLOI")
        elif source == "cfa":
            rows.append(f"DECA-{t}-{i};{cfa};{siret('7328293200007')};{ine};NOM{t}{i};Léa;01/03/2008;86194;N;"
                        f"CONTRAT_SIGNE;0{1 + i % 9}/09/2025;01/09/2025;")
        elif source == "cti":
            rows.append(json.dumps({"cti": CTI, "uai": lp, "type": "REPERAGE", "date": f"2026-02-0{1 + i % 9}",
                                    "reference": f"fiche-{t}-{i}", "motif": "absences répétées",
                                    "jeune": {"ine": ine or None, "nom": f"NOM{t}{i}", "prenom": "Élodie",
                                              "date_naissance": "2009-02-14", "commune_residence": "86194"}},
                                   ensure_ascii=False))
    return rows


@pytest.mark.parametrize("source", ["absenteisme", "mission-locale", "cfa", "cti"])
async def test_clean_file_publishes_every_record(env, tmp_path, source):
    t = tag()
    rows = clean_rows(source, t, 12)
    if source == "cti":
        path = tmp_path / f"cti-{t}.jsonl"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    else:
        path = write_csv(tmp_path / f"{source}-{t}.csv",
                         {"absenteisme": ABS_HEADER, "mission-locale": ML_HEADER, "cfa": CFA_HEADER}[source], rows)
    async with Watch(source) as w:
        counts = await ingest(source, path)
        assert counts_of(counts) == (12, 12, 0, 0, 0, 0, 12)
        events = await w.events()
        assert len(events) == 12 and await w.letters() == []
        assert {e["source"] for _, e in events} == {source}
        for key, e in events:  # keyed by the person: the INE when known
            assert key == e["person"]["ine"] if e["person"]["ine"] else key.startswith("n-")
        # The sink picks partitions itself: exactly where aiokafka's (and Faust's) default
        # partitioner puts the key, so the worker finds a person's events together.
        records = await records_since(w.topic, w.events_before)
        partitions = sorted(tp.partition for tp in w.events_before)
        assert all(r.partition == DefaultPartitioner()(r.key, partitions, partitions) for r in records)
    again = await ingest(source, path)
    assert counts_of(again) == (12, 0, 12, 0, 0, 0, 0)
    assert len(await w.events()) == 12


def test_sink_murmur2_is_kafkas():
    for n in range(64):
        for _ in range(50):
            data = os.urandom(n)
            assert murmur2(data) == aiokafka_murmur2(data)


async def test_rectorat_clean_export(env, tmp_path):
    uaj = fresh_uai()
    p = write(tmp_path / f"clean-{uaj}.xml", export(
        [eleve(str(i), ine=an_ine() if i % 2 else "", nom=f"NOM{i}") for i in range(1, 11)]
        + [eleve("11", nom="PARTI", sortie="10/01/2026", motif="03")], uaj=uaj))
    async with Watch("rectorat") as w:
        counts = await ingest("rectorat", p)
        assert counts_of(counts) == (11, 11, 0, 0, 0, 0, 12)
        assert counts["as_of"] == "2026-03-15"
        events = [e for _, e in await w.events()]
        assert sorted((e["event_type"], e["eleve_id"]) for e in events if e["eleve_id"] == "11") == [
            ("ELEVE_INSCRIT", "11"), ("ELEVE_SORTI", "11")]
        assert [e["motif_sortie"] for e in events if e["event_type"] == "ELEVE_SORTI"] == ["03"]
    assert counts_of(await ingest("rectorat", p)) == (11, 0, 11, 0, 0, 0, 0)


# --------------------------------------------------------------------------- rejections, per source


async def test_absenteisme_every_reason_filter_warning_and_reingest(env, tmp_path):
    t, lp = tag(), fresh_uai()
    rows = [
        f"{lp};{an_ine()};A{t};Zoé;05/05/2008;2026-01;4;0",  # line 2: ok
        f"{lp};;B{t};Zoé;05/05/2008;2026-02;0;0",  # ok, dated 2026-02-28 = as-of
        f"{lp};12345;C{t};Zoé;05/05/2008;2026-01;3;1",  # invalid INE: kept, one warning
        f"{lp};;D{t};Zoé;05/05/2013;2026-01;9;0",  # 12 years old: filtered
        f"0860012A;;E{t};Zoé;05/05/2008;2026-01;4;0",  # line 6: BAD_UAI (check letter)
        f"{lp};;F{t};Zoé;31/02/2008;2026-01;4;0",  # BAD_DATE
        f"{lp};;G{t};Zoé;05/05/2008;2026-13;4;0",  # BAD_VALUE: month 13
        f"{lp};;H{t};Zoé;05/05/2008;2026-01;-2;0",  # BAD_VALUE: negative count
        f"{lp};;;Zoé;05/05/2008;2026-01;4;0",  # MISSING_FIELD: nom
        f"{lp};;J{t};Zoé;05/05/2008;2026-03;4;0",  # FUTURE_DATE: 2026-03-31 > as-of
        f"{lp};;K{t};Zoé;05/05/2008;2026-01;4;0;9",  # line 12: more fields than the header → BAD_VALUE
        f"{lp};;L{t};Zoé;05/05/2008;2026-01;4",  # line 13: last field left off (empty) → MISSING_FIELD
    ]
    path = write_csv(tmp_path / f"abs-{t}.csv", ABS_HEADER, rows)
    async with Watch("absenteisme") as w:
        counts = await ingest("absenteisme", path, as_of=date(2026, 2, 28))
        assert counts_of(counts) == (12, 3, 0, 1, 8, 1, 3)
        assert counts["as_of"] == "2026-02-28"
        check_letters(await w.letters(), path, {
            "line 6": "BAD_UAI", "line 7": "BAD_DATE", "line 8": "BAD_VALUE", "line 9": "BAD_VALUE",
            "line 10": "MISSING_FIELD", "line 11": "FUTURE_DATE", "line 12": "BAD_VALUE",
            "line 13": "MISSING_FIELD"}, numbered(rows))
        events = [e for _, e in await w.events()]
        assert sorted(e["person"]["nom"] for e in events) == [f"A{t}", f"B{t}", f"C{t}"]
        assert [e["person"]["ine"] for e in events if e["person"]["nom"] == f"C{t}"] == [None]
    async with Watch("absenteisme") as w2:
        again = await ingest("absenteisme", path, as_of=date(2026, 2, 28))
        assert counts_of(again) == (12, 0, 3, 1, 8, 1, 0)
        assert await w2.events() == [] and len(await w2.letters()) == 8


async def test_an_oversized_record_is_refused_and_its_dead_letter_fits_in_kafka(env, tmp_path):
    # A 2 MB name: more than Kafka's 1 MB message. Refused BAD_VALUE (no field of
    # inputs.md is that long), its dead letter truncated; the rest of the file goes on.
    t, lp = tag(), fresh_uai()
    huge = "X" * 2_000_000
    rows = [f"{lp};;A{t};Zoé;05/05/2008;2026-01;4;0",
            f"{lp};;{huge};Zoé;05/05/2008;2026-01;4;0",
            f"{lp};;C{t};Zoé;05/05/2008;2026-01;4;0"]
    path = write_csv(tmp_path / f"big-{t}.csv", ABS_HEADER, rows)
    async with Watch("absenteisme") as w:
        counts = await ingest("absenteisme", path, as_of=date(2026, 2, 28))
        assert counts_of(counts) == (3, 2, 0, 0, 1, 0, 2)
        (letter,) = await w.letters()
        assert (letter["reason"], letter["position"]) == ("BAD_VALUE", "line 3")
        assert "2000000 caractères, 2000 au plus" in letter["detail"]
        assert letter["raw"].startswith(rows[1][:1000]) and letter["raw"].endswith(f"[tronqué : {len(rows[1])} caractères]")
        assert sorted(e["person"]["nom"] for _, e in await w.events()) == [f"A{t}", f"C{t}"]
    uaj = fresh_uai()
    xml = write(tmp_path / f"big-{uaj}.xml", export([eleve("1", nom=f"A{t}"), eleve("2", nom=huge)], uaj=uaj))
    async with Watch("rectorat") as w:
        counts = await ingest("rectorat", xml)
        assert counts_of(counts) == (2, 1, 0, 0, 1, 0, 1)
        (letter,) = await w.letters()
        assert (letter["reason"], letter["position"]) == ("BAD_VALUE", "ELEVE[2]")


async def test_mission_locale_every_reason_filter_warning_and_reingest(env, tmp_path):
    t = tag()
    rows = [
        f"{ML};M{t}1;;A{t};Zoé;05/05/2008;86194;PREMIER_ACCUEIL;03/02/2026;;",  # line 2: ok
        f"{ML.lower()};M{t}2;{an_ine()};B{t};Zoé;05/05/2008;;ENTREE_ACCOMPAGNEMENT;04/02/2026;cej;",  # ok
        f"{ML};M{t}3;9999;C{t};Zoé;05/05/2008;86194;SITUATION;2026-02-05;;emploi",  # invalid INE: warning
        f"{ML};M{t}4;;D{t};Zoé;05/05/2012;86194;PREMIER_ACCUEIL;03/02/2026;;",  # 13: filtered
        f"ML-86-XXX;M{t}5;;E{t};Zoé;05/05/2008;86194;PREMIER_ACCUEIL;03/02/2026;;",  # line 6: BAD_VALUE
        f"{ML};M{t}6;;F{t};Zoé;05/05/2008;86194;INSCRIPTION;03/02/2026;;",  # BAD_VALUE: evenement
        f"{ML};M{t}7;;G{t};Zoé;05/05/2008;8619;PREMIER_ACCUEIL;03/02/2026;;",  # BAD_COMMUNE
        f"{ML};M{t}8;;H{t};Zoé;05/05/2008;86194;PREMIER_ACCUEIL;3 février;;",  # BAD_DATE
        f"{ML};;;I{t};Zoé;05/05/2008;86194;PREMIER_ACCUEIL;03/02/2026;;",  # MISSING_FIELD identifiant
        f"{ML};M{t}9;;J{t};Zoé;05/05/2008;86194;ENTREE_ACCOMPAGNEMENT;03/02/2026;;",  # MISSING_FIELD dispositif
        f"{ML};M{t}10;;K{t};Zoé;05/05/2008;86194;PREMIER_ACCUEIL;03/03/2026;;",  # line 12: FUTURE_DATE
    ]
    path = write_csv(tmp_path / f"ml-{t}.csv", ML_HEADER, rows)
    async with Watch("mission-locale") as w:
        counts = await ingest("mission-locale", path, as_of=date(2026, 2, 28))
        assert counts_of(counts) == (11, 3, 0, 1, 7, 1, 3)
        check_letters(await w.letters(), path, {
            "line 6": "BAD_VALUE", "line 7": "BAD_VALUE", "line 8": "BAD_COMMUNE", "line 9": "BAD_DATE",
            "line 10": "MISSING_FIELD", "line 11": "MISSING_FIELD", "line 12": "FUTURE_DATE"}, numbered(rows))
        events = {e["identifiant_milo"]: e for _, e in await w.events()}
        assert sorted(events) == [f"M{t}1", f"M{t}2", f"M{t}3"]
        assert events[f"M{t}2"]["code_ml"] == ML and events[f"M{t}2"]["dispositif"] == "CEJ"
        assert events[f"M{t}3"]["situation"] == "EMPLOI" and events[f"M{t}3"]["person"]["ine"] is None
    again = await ingest("mission-locale", path, as_of=date(2026, 2, 28))
    assert counts_of(again) == (11, 0, 3, 1, 7, 1, 0)


async def test_cfa_every_reason_filter_warning_and_reingest(env, tmp_path):
    t, cfa, good_siret = tag(), fresh_uai(), siret("7328293200007")
    base = f"{cfa};{good_siret}"
    rows = [
        f"DECA-{t}-1;{base};{an_ine()};A{t};Léa;01/03/2008;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",  # ok
        f"DECA-{t}-2;{base};;B{t};Léa;01/03/2008;2A004;o;CONTRAT_ROMPU;20/09/2025;01/09/2025;periode_essai",  # ok
        f"DECA-{t}-3;{base};0000A;C{t};Léa;01/03/2008;;;SORTIE_CFA;30/09/2025;;",  # invalid INE: warning
        f"DECA-{t}-4;{base};;D{t};Léa;01/03/2012;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",  # filtered
        f"DECA-{t}-5;0861234A;{good_siret};;E{t};Léa;01/03/2008;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",
        f"DECA-{t}-6;{cfa};12345678901234;;F{t};Léa;01/03/2008;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",
        f"DECA-{t}-7;{base};;G{t};Léa;01/03/2008;861940;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",  # BAD_COMMUNE
        f"DECA-{t}-8;{base};;H{t};Léa;2008-02-30;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;",  # BAD_DATE
        f"DECA-{t}-9;{base};;I{t};Léa;01/03/2008;86194;X;CONTRAT_SIGNE;01/09/2025;01/09/2025;",  # BAD_VALUE rqth
        f"DECA-{t}-10;{base};;J{t};Léa;01/03/2008;86194;N;CONTRAT_ROMPU;20/09/2025;;",  # MISSING_FIELD debut
        f"DECA-{t}-11;{base};;K{t};Léa;01/03/2008;86194;N;CONTRAT_SIGNE;01/10/2025;01/10/2025;",  # FUTURE_DATE
    ]
    path = write_csv(tmp_path / f"cfa-{t}.csv", CFA_HEADER, rows)
    async with Watch("cfa") as w:
        counts = await ingest("cfa", path, as_of=date(2025, 9, 30))
        assert counts_of(counts) == (11, 3, 0, 1, 7, 1, 3)
        check_letters(await w.letters(), path, {
            "line 6": "BAD_UAI", "line 7": "BAD_SIRET", "line 8": "BAD_COMMUNE", "line 9": "BAD_DATE",
            "line 10": "BAD_VALUE", "line 11": "MISSING_FIELD", "line 12": "FUTURE_DATE"}, numbered(rows))
        events = {e["person"]["nom"]: e for _, e in await w.events()}
        assert sorted(events) == [f"A{t}", f"B{t}", f"C{t}"]
        assert events[f"B{t}"]["rqth"] is True and events[f"B{t}"]["cause_rupture"] == "PERIODE_ESSAI"
        assert events[f"B{t}"]["person"]["commune_residence"] == "2A004"
        assert events[f"C{t}"]["event_type"] == "SORTIE_CFA" and events[f"C{t}"]["person"]["ine"] is None
    again = await ingest("cfa", path, as_of=date(2025, 9, 30))
    assert counts_of(again) == (11, 0, 3, 1, 7, 1, 0)


async def test_cti_every_reason_filter_warning_and_reingest(env, tmp_path):
    t, lp = tag(), fresh_uai()

    def report(n: int, **over) -> str:
        jeune = {"ine": None, "nom": f"N{n}{t}", "prenom": "Élodie", "date_naissance": "2009-02-14",
                 "commune_residence": "86194"}
        jeune.update(over.pop("jeune", {}))
        doc = {"cti": CTI, "uai": lp, "type": "REPERAGE", "date": "2026-02-03", "reference": f"fiche-{t}-{n}",
               "motif": "absences", "jeune": jeune}
        doc.update(over)
        return json.dumps(doc, ensure_ascii=False)

    lines = [
        report(1, jeune={"ine": an_ine()}),  # line 1: ok
        report(2, type="suivi"),  # ok
        report(3, jeune={"ine": "12 34"}),  # invalid INE: warning
        report(4, jeune={"date_naissance": "2013-01-01"}),  # filtered
        '{"cti": "' + CTI + '", "uai": ',  # line 5: BAD_JSON (cut)
        "[1, 2, 3]",  # BAD_JSON: not an object
        report(7, uai="0860012A"),  # BAD_UAI
        report(8, date="03/13/2026"),  # BAD_DATE
        report(9, jeune={"commune_residence": "X6194"}),  # BAD_COMMUNE
        report(10, type="ALERTE"),  # BAD_VALUE
        report(11, cti="CTI-E-99-99"),  # BAD_VALUE: unknown CTI
        report(12, reference=""),  # MISSING_FIELD
        report(13, date="2026-03-01"),  # line 13: FUTURE_DATE
    ]
    path = tmp_path / f"cti-{t}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    async with Watch("cti") as w:
        counts = await ingest("cti", path, as_of=date(2026, 2, 28))
        assert counts_of(counts) == (13, 3, 0, 1, 9, 1, 3)
        check_letters(await w.letters(), path, {
            "line 5": "BAD_JSON", "line 6": "BAD_JSON", "line 7": "BAD_UAI", "line 8": "BAD_DATE",
            "line 9": "BAD_COMMUNE", "line 10": "BAD_VALUE", "line 11": "BAD_VALUE", "line 12": "MISSING_FIELD",
            "line 13": "FUTURE_DATE"}, numbered(lines, first_line=1))
        events = {e["reference"]: e for _, e in await w.events()}
        assert sorted(events) == [f"fiche-{t}-1", f"fiche-{t}-2", f"fiche-{t}-3"]
        assert events[f"fiche-{t}-2"]["type"] == "SUIVI" and events[f"fiche-{t}-3"]["person"]["ine"] is None
    again = await ingest("cti", path, as_of=date(2026, 2, 28))
    assert counts_of(again) == (13, 0, 3, 1, 9, 1, 0)


async def test_rectorat_every_reason_filter_warning_and_reingest(env, tmp_path):
    uaj = fresh_uai()
    pupils = [
        eleve("1", ine=an_ine(), nom="ALPHA"),  # ELEVE[1]: ok
        eleve("2", nom="BRAVO", sortie="10/01/2026", motif="05"),  # ok, two events
        eleve("3", nom="CHARLIE", ine="123"),  # invalid INE: kept, warning
        eleve("4", nom="DELTA", naiss="01/01/2014"),  # 12 years old: filtered
        eleve("5", nom="ECHO", naiss="30/02/2008"),  # ELEVE[5]: BAD_DATE
        eleve("6", nom="FOXTROT", commune="8619X"),  # BAD_COMMUNE
        eleve("7", nom="GOLF", prenom=""),  # MISSING_FIELD
        eleve("", nom="HOTEL"),  # MISSING_FIELD: no ELEVE_ID
        eleve("1", nom="INDIA"),  # BAD_VALUE: ELEVE_ID already in the file
        eleve("10", nom="JULIETT", entree="01/04/2026"),  # ELEVE[10]: FUTURE_DATE (after the as-of)
    ]
    path = write(tmp_path / f"lp-{uaj}.xml", export(pupils, uaj=uaj, date_export="20/03/2026"))
    async with Watch("rectorat") as w:
        counts = await ingest("rectorat", path, as_of=date(2026, 3, 15))
        assert counts_of(counts) == (10, 3, 0, 1, 6, 1, 4)
        assert counts["as_of"] == "2026-03-15"  # --as-of wins over DATE_EXPORT
        letters = await w.letters()
        assert dlq_summary(letters) == sorted((path.name, f"ELEVE[{n}]", r) for n, r in [
            (5, "BAD_DATE"), (6, "BAD_COMMUNE"), (7, "MISSING_FIELD"), (8, "MISSING_FIELD"), (9, "BAD_VALUE"),
            (10, "FUTURE_DATE")])
        for letter in letters:  # the raw element, whole
            assert letter["raw"].startswith("<ELEVE") and letter["raw"].endswith("</ELEVE>")
        assert "JULIETT" in next(x["raw"] for x in letters if x["reason"] == "FUTURE_DATE")
        events = [e for _, e in await w.events()]
        assert sorted((e["event_type"], e["eleve_id"]) for e in events) == [
            ("ELEVE_INSCRIT", "1"), ("ELEVE_INSCRIT", "2"), ("ELEVE_INSCRIT", "3"), ("ELEVE_SORTI", "2")]
    # Again: the valid and the filtered pupils are in the snapshot now, so nothing changes
    # for them; the filtered pupil, never published, is still `filtered` (not `unchanged`).
    again = await ingest("rectorat", path, as_of=date(2026, 3, 15))
    assert counts_of(again) == (10, 0, 3, 1, 6, 1, 0)


# --------------------------------------------------------------------------- encodings


async def test_windows_1252_and_bom_csv(env, tmp_path):
    t, lp = tag(), fresh_uai()
    # Œ (0x8C) and ’ (0x92) exist in Windows-1252, not in Latin-1.
    rows_1252 = [f"{lp};;ŒUVRE{t};Zoé;05/05/2008;2026-01;4;0", f"{lp};;D’ARC{t};Anaïs;05/05/2008;2026-01;2;0"]
    p1252 = write_csv(tmp_path / f"abs-1252-{t}.csv", ABS_HEADER, rows_1252, encoding="cp1252", eol="\r\n")
    with pytest.raises(UnicodeDecodeError):
        p1252.read_bytes().decode("utf-8")
    rows_bom = [f"{lp};;ÉTÉ{t};Chloé;05/05/2008;2026-01;6;0"]
    pbom = write_csv(tmp_path / f"abs-bom-{t}.csv", ABS_HEADER.upper(), rows_bom, bom=True)
    async with Watch("absenteisme") as w:
        assert counts_of(await ingest("absenteisme", p1252)) == (2, 2, 0, 0, 0, 0, 2)
        assert counts_of(await ingest("absenteisme", pbom)) == (1, 1, 0, 0, 0, 0, 1)
        names = sorted((e["person"]["nom"], e["person"]["prenom"]) for _, e in await w.events())
        assert names == sorted([(f"ŒUVRE{t}", "Zoé"), (f"D’ARC{t}", "Anaïs"), (f"ÉTÉ{t}", "Chloé")])


# --------------------------------------------------------------------------- file-level errors


def one_line_exit_2(result) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.strip(), result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("source", ["absenteisme", "mission-locale", "cfa"])
async def test_csv_file_level_errors_publish_nothing(env, tmp_path, source):
    header = {"absenteisme": ABS_HEADER, "mission-locale": ML_HEADER, "cfa": CFA_HEADER}[source]
    good = clean_rows(source, tag(), 3)
    missing_column = ";".join(c for c in header.split(";") if c != "nom")
    dropped = header.split(";").index("nom")
    cases = {
        # A required column absent: the rows (valid otherwise) must not be published.
        "missing.csv": (missing_column + "\n" + "\n".join(
            ";".join(f for i, f in enumerate(r.split(";")) if i != dropped) for r in good) + "\n").encode(),
        "comma.csv": (header.replace(";", ",") + "\n" + "\n".join(r.replace(";", ",") for r in good) + "\n").encode(),
        "binary.csv": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4,
        "empty.csv": b"",
    }
    async with Watch(source) as w:
        for name, data in cases.items():
            path = tmp_path / name
            path.write_bytes(data)
            one_line_exit_2(run_hub("ingest", source, str(path), "--json", env=env))
        one_line_exit_2(run_hub("ingest", source, str(tmp_path), env=env))  # a directory
        one_line_exit_2(run_hub("ingest", source, str(tmp_path / "absent.csv"), env=env))
        assert await w.unchanged()


async def test_cti_and_rectorat_file_level_errors_publish_nothing(env, tmp_path):
    async with Watch("cti") as w:
        one_line_exit_2(run_hub("ingest", "cti", str(tmp_path), env=env))  # a directory: unreadable as a file
        one_line_exit_2(run_hub("ingest", "cti", str(tmp_path / "nope.jsonl"), env=env))
        assert await w.unchanged()
    uaj = fresh_uai()
    good = [eleve("1", nom="ALPHA"), eleve("2", nom="BRAVO")]
    bad = {
        "notxml.xml": b"uai;ine;nom\n0860012W;;DUPONT\n",
        "root.xml": b'<?xml version="1.0"?><ELEVES><ELEVE ELEVE_ID="1"/></ELEVES>',
        "baduaj.xml": export(good, uaj="0860012A"),
        "nodate.xml": export(good, uaj=uaj, date_export=None),
        "malformed.xml": export(good, uaj=uaj).replace(b"</PRENOM>", b"</PRENOM2>", 1),
        "badenc.xml": export(good, uaj=uaj, encoding="UTF-8").replace(b"UTF-8", b"X-UNKNOWN-42"),
    }
    async with Watch("rectorat") as w:
        for name, data in bad.items():
            one_line_exit_2(run_hub("ingest", "rectorat", str(write(tmp_path / "x" / name, data)), env=env))
        # One bad file in a directory refuses the whole batch, its good files too.
        batch = tmp_path / "batch"
        write(batch / "a-good.xml", export(good, uaj=uaj))
        write(batch / "b-bad.xml", bad["malformed.xml"])
        one_line_exit_2(run_hub("ingest", "rectorat", str(batch), env=env))
        assert await w.unchanged()
    # The good file alone is fine: its state was not touched by the refused batch.
    assert counts_of(await ingest("rectorat", batch / "a-good.xml")) == (2, 2, 0, 0, 0, 0, 2)


# --------------------------------------------------------------------------- SIECLE specifics


async def test_siecle_transfer_between_two_establishments_in_one_batch(env, tmp_path):
    a, b = fresh_uai(), fresh_uai()
    ine = an_ine()
    first = write(tmp_path / "before" / f"a-{a}.xml", export([eleve("10", ine=ine, nom="MOREAU")], uaj=a,
                                                             date_export="15/12/2025"))
    assert counts_of(await ingest("rectorat", first)) == (1, 1, 0, 0, 0, 0, 1)
    batch = tmp_path / "batch"
    write(batch / f"a-{a}.xml", export([eleve("10", ine=ine, nom="MOREAU", sortie="09/01/2026", motif="01")],
                                       uaj=a, date_export="15/01/2026"))
    write(batch / f"b-{b}.xml", export([eleve("77", ine=ine, nom="MOREAU", entree="12/01/2026")], uaj=b,
                                       date_export="20/01/2026"))
    async with Watch("rectorat") as w:
        counts = await ingest("rectorat", batch)
        assert counts_of(counts) == (2, 2, 0, 0, 0, 0, 2)
        assert counts["as_of"] == "2026-01-15"  # the earliest DATE_EXPORT of the batch
        events = sorted(await w.events(), key=lambda ke: ke[1]["event_date"])
        assert [(e["event_type"], e["uai"], e["event_date"].isoformat(), e.get("motif_sortie")) for _, e in events] == [
            ("ELEVE_SORTI", a, "2026-01-09", "01"), ("ELEVE_INSCRIT", b, "2026-01-12", None)]
        assert {k for k, _ in events} == {ine}  # one person: same key, same partition
    assert counts_of(await ingest("rectorat", batch)) == (2, 0, 2, 0, 0, 0, 0)


@pytest.mark.parametrize("encoding", ["ISO-8859-15", "UTF-8"])
async def test_siecle_encodings_and_old_nom_element(env, tmp_path, encoding):
    uaj = fresh_uai()
    pupils = [
        eleve("1", nom="ŒUVRARD", prenom="Zoé"),  # Œ: ISO-8859-15 (0xBC), not Latin-1
        eleve("2", nom="DUPRÉ", prenom="Anaïs", nom_tag="NOM"),  # older exports: NOM
        eleve("3", nom="ŠKODA-ŽELEZNÝ", prenom="Ÿann"),  # Š Ž Ÿ: also ISO-8859-15 only
    ]
    data = export(pupils, uaj=uaj, encoding=encoding)
    assert f'encoding="{encoding}"'.encode() in data
    path = write(tmp_path / f"enc-{uaj}.xml", data)
    async with Watch("rectorat") as w:
        assert counts_of(await ingest("rectorat", path)) == (3, 3, 0, 0, 0, 0, 3)
        names = sorted((e["eleve_id"], e["person"]["nom"], e["person"]["prenom"]) for _, e in await w.events())
    assert names == [("1", "ŒUVRARD", "Zoé"), ("2", "DUPRÉ", "Anaïs"),
                     ("3", "ŠKODA-ŽELEZNÝ", "Ÿann")]


@pytest.mark.parametrize("form", ["entity", "external-dtd", "parameter-entity"])
async def test_siecle_xxe_refused_without_reading_the_file(env, tmp_path, form):
    """The entity points at a FIFO: opening it for reading would block until a writer
    comes, so a run that returns (exit 2, one line) did not try to read it."""
    fifo = tmp_path / "secret"
    os.mkfifo(fifo)
    uaj = fresh_uai()
    body = export([eleve("1", nom="&xxe;" if form == "entity" else "ALPHA")], uaj=uaj).decode("iso-8859-15")
    body = body.replace("&amp;xxe;", "&xxe;")
    prolog, rest = body.split("\n", 1)
    doctype = {
        "entity": f'<!DOCTYPE BEE_ELEVES [<!ENTITY xxe SYSTEM "file://{fifo}">]>',
        "external-dtd": f'<!DOCTYPE BEE_ELEVES SYSTEM "file://{fifo}">',
        "parameter-entity": f'<!DOCTYPE BEE_ELEVES [<!ENTITY % p SYSTEM "file://{fifo}"> %p;]>',
    }[form]
    path = write(tmp_path / f"xxe-{form}.xml", f"{prolog}\n{doctype}\n{rest}".encode("iso-8859-15"))
    async with Watch("rectorat") as w:
        result = run_hub("ingest", "rectorat", str(path), env=env, timeout=120)  # would time out if read
        one_line_exit_2(result)
        assert "DTD" in result.stderr
        assert await w.unchanged()


# --------------------------------------------------------------------------- a big file


@pytest.fixture
def big_env(fresh_hub_env):
    """A broker of its own for a big file: on the session's, every later `hub worker`
    test (a consumer group of its own each) would read its events again."""
    assert run_hub("topics", "apply", env=fresh_hub_env).returncode == 0
    return fresh_hub_env


async def test_malformed_lines_in_a_100k_file_cost_exactly_those_lines(big_env, tmp_path):
    env = big_env
    t, lp = tag(), fresh_uai()
    n = 100_000
    bad = {2: f"{lp};;BAD{t}0;Zoé;05/05/2008;2026-01;4;0;extra",  # first data line: 9 fields → BAD_VALUE
           # a stray quote swallows the separators: 3 fields, the others empty → MISSING_FIELD
           50_001: f'{lp};;"BAD{t}1;Zoé;05/05/2008;2026-01;4;0',
           n + 1: f"{lp};;BAD{t}2;Zoé;05/05/2008"}  # last line: 5 fields, the others empty → MISSING_FIELD
    reasons = {2: "BAD_VALUE", 50_001: "MISSING_FIELD", n + 1: "MISSING_FIELD"}
    path = tmp_path / f"big-{t}.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write(ABS_HEADER + "\n")
        for line_no in range(2, n + 2):
            f.write((bad.get(line_no) or f"{lp};;N{t}{line_no};Zoé;05/05/2008;2026-01;{line_no % 30};0") + "\n")
    async with Watch("absenteisme") as w:
        result = run_hub("ingest", "absenteisme", str(path), "--json", env=env, timeout=600)
        assert result.returncode == 0, result.stderr
        counts = json.loads(result.stdout)
        assert counts_of(counts) == (n, n - 3, 0, 0, 3, 0, n - 3)
        letters = await w.letters()
        assert [(x["position"], x["reason"], x["raw"]) for x in sorted(letters, key=lambda x: int(x["position"][5:]))] \
            == [(f"line {k}", reasons[k], v) for k, v in sorted(bad.items())]
        after = await offsets(w.topic)
        assert sum(after.values()) - sum(w.events_before.values()) == n - 3
