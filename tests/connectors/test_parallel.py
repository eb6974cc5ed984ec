"""The ingest hot paths give the same results as the plain ones: the worker processes of
connectors.core.parallel, the name folding of person keys, the scratch tables' Bloom
filters, the sink's prepare/offer split."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest

from connectors import get_connector, run_ingest
from connectors.core import parallel
from connectors.core.memory import MemorySeenEvents, MemorySink, MemorySnapshotStore
from connectors.core.types import PupilState
from connectors.rectorat.state import Scratch
from hub.errors import InputError
from hub.kafka.sink import KafkaSink
from tests.connectors.helpers import CTI_CODE, ML, SETTINGS, SIRET, UAI_CFA, UAI_LP, FakeDirectory, write_csv

CLOCK = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAMES = ["DUPONT", "Lefèvre", "O'BRIEN", "benoît-léger", "Nguyễn", "Zoë", "ﬁlou", "ǰean", "Straße"]


def _rows(source: str, n: int) -> tuple[str, list[str]]:
    rng = random.Random(source)
    rows = []
    if source == "absenteisme":
        header = "uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees"
        for i in range(n):
            ine = f"{i:09d}AB" if i % 3 == 0 else ("bad-ine" if i % 7 == 0 else "")
            born = f"{rng.randint(1, 28):02d}/0{rng.randint(1, 9)}/{rng.choice([2006, 2008, 2013])}"
            rows.append(f"{UAI_LP};{ine};{rng.choice(NAMES)} {i};{rng.choice(NAMES)};{born};2026-0{rng.randint(1, 3)};"
                        f"{rng.randint(0, 9)};{rng.choice(['1', 'x', ''])}")
    elif source == "cfa":
        header = ("numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;"
                  "evenement;date_evenement;date_debut_contrat;cause_rupture")
        for i in range(n):
            ev = rng.choice(["CONTRAT_SIGNE", "CONTRAT_ROMPU", "SORTIE_CFA", "NOPE"])
            rows.append(f"C{i % 500};{UAI_CFA};{SIRET};;{rng.choice(NAMES)};Léa;14/02/2007;86194;N;{ev};"
                        f"{rng.randint(1, 28):02d}/0{rng.randint(1, 4)}/2026;01/09/2025;")
    else:  # mission-locale
        header = ("code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;date_evenement;"
                  "dispositif;situation")
        for i in range(n):
            rows.append(f"{rng.choice([ML, 'ML-XX'])};M{i % 300};;{rng.choice(NAMES)};Noé;01/01/2008;86194;PREMIER_ACCUEIL;"
                        f"{rng.randint(1, 28):02d}/02/2026;;")
    rows[n // 2] = "broken;line"
    rows[n // 5] = rows[n // 5].replace(";Léa;", ';"Léa; Marie";').replace(";Noé;", ';"Noé";')  # quoted fields
    rows.insert(n // 3, "")  # a blank line: not a record
    rows.insert(n // 4, '"";;" "')  # only empty (quoted) fields: not a record either
    return header, rows


async def _run(source, path, monkeypatch, mode: str, workers: int = 2, seen=None, as_of=None):  # noqa: ANN001
    monkeypatch.setenv(parallel.ENV, mode)
    monkeypatch.setenv(parallel.ENV + "S", str(workers))
    sink = MemorySink()
    result = await run_ingest(get_connector(source), path, sink=sink, seen=seen or MemorySeenEvents(),
                              snapshots=MemorySnapshotStore(), directory=FakeDirectory(), settings=SETTINGS,
                              clock=lambda: CLOCK, as_of=as_of)
    return result.to_json(), sink.published, sink.dead_letters, sink.flushes


@pytest.mark.parametrize("source", ["absenteisme", "cfa", "mission-locale"])
@pytest.mark.parametrize("workers", [1, 2, 3])
async def test_worker_processes_give_the_single_process_results(tmp_path, monkeypatch, source, workers):
    header, rows = _rows(source, 4_321)  # several chunks, the last one partial
    path = write_csv(tmp_path / f"{source}.csv", header, rows)
    calls = []
    original = parallel.run_records

    async def spy(*args, **kwargs):  # noqa: ANN002, ANN003
        calls.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(parallel, "run_records", spy)
    seen_ids = ["e-" + "0" * 32]
    plain = await _run(source, path, monkeypatch, "0", seen=MemorySeenEvents(seen_ids))
    assert not calls
    forked = await _run(source, path, monkeypatch, "1", workers, seen=MemorySeenEvents(seen_ids))
    assert calls
    assert forked == plain
    counts = plain[0]
    assert counts["rejected"] >= 1 and counts["published"] > 500
    if source == "absenteisme":  # refused rows of the under-15s (born 2013) are filtered
        assert counts["filtered"] and not any("/2013;" in dl["raw"] for _, dl in plain[2])
    # a re-ingest against the ids now seen: everything unchanged, in both modes
    seen = MemorySeenEvents([e["event_id"] for _, _, e in plain[1]])
    again = await _run(source, path, monkeypatch, "1", workers, seen=seen)
    assert again[0]["published"] == 0 and again[0]["unchanged"] == counts["published"] + counts["unchanged"]


def _siecle_exports(tmp_path):
    """Three exports of one UAJ, several chunks each: new pupils, exits stated and by
    disappearance, refused and under-15 pupils, ELEVE_IDs repeated across chunks; the
    third is older than the second (a stale export)."""
    from tests.connectors.siecle_files import eleve, export, write

    def pupil(i, export_no):
        rng = random.Random(i)  # one pupil, the same in every export
        born = "14/02/2013" if i % 11 == 0 else f"{rng.randint(1, 28):02d}/0{rng.randint(1, 9)}/2008"
        left, draw = rng.choice([("20/01/2026", 1), ("01/03/2026", 2)]), rng.random()
        if draw < 0.03:
            return eleve(str(i), naiss="31/02/2008")  # BAD_DATE
        if draw < 0.15 and export_no >= left[1]:
            return eleve(str(i), naiss=born, sortie=left[0], motif=rng.choice(["", "04", "07", "5"]))
        return eleve(str(i), ine=f"{i:09d}AB" if i % 3 else "", nom=rng.choice(NAMES), naiss=born)

    first = [pupil(i, 1) for i in range(3_500)]
    first.insert(2_600, first[10])  # a repeated ELEVE_ID two chunks later
    first.insert(1_500, eleve(""))  # no ELEVE_ID
    second = [pupil(i, 2) for i in range(4_200) if i % 9]  # every 9th gone, 700 new
    second.insert(3_100, second[5])
    stale = [pupil(i, 1) for i in range(0, 5_000, 2)]
    return [write(tmp_path / f"{n}.xml", export(pupils, date_export=day, encoding="UTF-8"))
            for n, (pupils, day) in enumerate([(first, "15/02/2026"), (second, "15/03/2026"),
                                               (stale, "01/03/2026")], start=1)]


@pytest.mark.parametrize("workers", [1, 2, 3])
async def test_siecle_snapshots_through_workers_give_the_single_process_results(tmp_path, monkeypatch, workers):
    """The SIECLE diff, mapped by worker processes (Records) and settled here, publishes
    the same events and dead letters and saves the same snapshots as in one process."""
    paths = _siecle_exports(tmp_path)
    calls = []
    original = parallel.run_records

    async def spy(*args, **kwargs):  # noqa: ANN002, ANN003
        calls.append(kwargs.get("records") is not None)
        return await original(*args, **kwargs)

    monkeypatch.setattr(parallel, "run_records", spy)
    monkeypatch.setenv(parallel.ENV + "S", str(workers))

    async def run_all(mode):
        monkeypatch.setenv(parallel.ENV, mode)
        sink, seen, store = MemorySink(), MemorySeenEvents(), MemorySnapshotStore()
        results = []
        for path in [*paths, paths[1]]:  # and a re-ingest
            result = await run_ingest(get_connector("rectorat"), path, sink=sink, seen=seen, snapshots=store,
                                      settings=SETTINGS, clock=lambda: CLOCK)
            results.append(result.to_json())
        return results, sink.published, sink.dead_letters, store.snapshots, store.saves

    plain = await run_all("0")
    assert not calls
    forked = await run_all("1")
    assert calls == [True] * 4
    assert forked == plain
    results = plain[0]
    assert all(r["rejected"] >= 3 and r["filtered"] > 100 for r in results[:3])  # BAD_DATE, two repeats
    assert results[1]["events"] > results[1]["published"]  # exits by disappearance
    assert results[2]["published"] > 0 and results[3]["published"] == 0
    assert any("en double" in dl["detail"] for _, dl in plain[2])


async def test_worker_with_future_dates_and_cti(tmp_path, monkeypatch):
    import json

    lines = []
    for i in range(2_500):
        lines.append(json.dumps({"cti": CTI_CODE, "uai": UAI_LP, "type": "REPERAGE", "date": f"2026-0{1 + i % 4}-02",
                                 "reference": f"r{i}", "jeune": {"nom": NAMES[i % len(NAMES)], "prenom": "Léa",
                                                                 "date_naissance": "2008-01-01"}}))
    lines[100] = "{not json"
    path = tmp_path / "cti.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plain = await _run("cti", path, monkeypatch, "0", as_of=date(2026, 2, 15))
    forked = await _run("cti", path, monkeypatch, "1", as_of=date(2026, 2, 15))
    assert forked == plain and plain[0]["rejected"] > 1000  # FUTURE_DATE and BAD_JSON


@pytest.mark.parametrize("source", ["cfa", "mission-locale"])
async def test_default_as_of_counts_rejected_rows_either_way(tmp_path, monkeypatch, source):
    """The default as-of (the latest event date) counts rejected rows with a valid date,
    whichever process maps them: the same as-of and watermark in both modes."""
    header, rows = _rows(source, 3_000)
    if source == "cfa":  # a bad SIRET on the latest-dated row
        head = rows[2_500].replace(SIRET, "12345678901234").rsplit(";", 4)[0]
        rows[2_500] = head + ";CONTRAT_SIGNE;30/06/2026;01/09/2025;"
    else:  # an unknown Mission locale
        rows[2_500] = "ML-INCONNUE;M9;;NOM;Noé;01/01/2008;86194;PREMIER_ACCUEIL;30/06/2026;;"
    path = write_csv(tmp_path / f"{source}.csv", header, rows)
    plain = await _run(source, path, monkeypatch, "0")
    forked = await _run(source, path, monkeypatch, "1")
    assert forked == plain and plain[0]["as_of"] == "2026-06-30"
    assert any(dl["raw"] == rows[2_500] for _, dl in plain[2])


async def test_worker_failure_is_raised_and_nothing_hangs(tmp_path, monkeypatch):
    header, rows = _rows("cfa", 3_000)
    path = write_csv(tmp_path / "cfa.csv", header, rows)

    def broken(*_args, **_kwargs):  # noqa: ANN002, ANN003
        raise InputError("lecture impossible")

    monkeypatch.setattr(parallel, "_entry_maker", broken)
    with pytest.raises(InputError, match="lecture impossible"):
        await _run("cfa", path, monkeypatch, "1")


async def test_worker_killed_is_an_error(tmp_path, monkeypatch):
    import os

    header, rows = _rows("cfa", 3_000)
    path = write_csv(tmp_path / "cfa.csv", header, rows)

    def die(*_args, **_kwargs):  # noqa: ANN002, ANN003
        os._exit(3)

    monkeypatch.setattr(parallel, "_entry_maker", die)
    with pytest.raises(RuntimeError, match="code 3"):
        await _run("cfa", path, monkeypatch, "1", workers=1)


def test_auto_mode_needs_a_big_file(monkeypatch, tmp_path):
    header, rows = _rows("cfa", 10)
    connector = get_connector("cfa")
    from connectors.core.runner import make_context

    batch = connector.open(write_csv(tmp_path / "small.csv", header, rows), make_context(connector, settings=SETTINGS))
    batch.prepare()
    try:
        monkeypatch.setenv(parallel.ENV, "auto")
        assert not parallel.wanted(batch)
        monkeypatch.setenv(parallel.ENV, "1")
        assert parallel.wanted(batch)
        monkeypatch.setenv(parallel.ENV, "0")
        assert not parallel.wanted(batch)
    finally:
        batch.close()


class _CaptureSink(KafkaSink):
    """A KafkaSink that is never started: what `_append` receives is kept."""

    def __init__(self) -> None:
        super().__init__(SETTINGS)
        self.kept: list[tuple] = []

    async def _append(self, topic, key, value, headers):  # noqa: ANN001
        self.kept.append((topic, key, value, headers))

    async def flush(self) -> None:
        return None

    async def watermark(self, source, as_of) -> None:  # noqa: ANN001
        return None


@pytest.mark.parametrize("mode", ["0", "1"])
async def test_kafka_sink_messages_are_the_same_either_way(tmp_path, monkeypatch, mode):
    header, rows = _rows("absenteisme", 2_200)
    path = write_csv(tmp_path / "a.csv", header, rows)
    monkeypatch.setenv(parallel.ENV, mode)
    sinks = []
    for _ in range(2):
        sink = _CaptureSink()
        await run_ingest(get_connector("absenteisme"), path, sink=sink, seen=MemorySeenEvents(),
                         settings=SETTINGS, clock=lambda: CLOCK)
        sinks.append(sink)
    # the messages are those `publish` (the codec's encoding) gives for the same events
    reference = MemorySink()
    monkeypatch.setenv(parallel.ENV, "0")
    await run_ingest(get_connector("absenteisme"), path, sink=reference, seen=MemorySeenEvents(),
                     settings=SETTINGS, clock=lambda: CLOCK)
    codec = sinks[0].codec
    expected = [(t, k.encode(), codec.encode_event(e)) for t, k, e in reference.published]
    got = [(t, k, v) for t, k, v, _ in sinks[0].kept if not t.endswith(".dlq")]
    assert got == expected and sinks[0].kept == sinks[1].kept
    events_kept = [m for m in sinks[0].kept if not m[0].endswith(".dlq")]
    for (_, _, e), (_, _, _, headers) in zip(reference.published, events_kept, strict=True):
        assert headers == [("event_id", e["event_id"].encode()), ("event_type", e["event_type"].encode())]


def test_scratch_tables_with_their_bloom_filters():
    scratch = Scratch()
    try:
        pupils, ids = scratch.pupils(expected=10), scratch.ids(expected=10)
        state = PupilState(False, None, "A", "B", date(2008, 1, 1), None)
        for i in range(3_000):  # far more than expected: the filter fills, answers stay exact
            key = str(i)
            assert key not in ids and key not in pupils and pupils.get(key) is None
            ids.add(key)
            pupils[key] = state
            pupils[key] = PupilState.gone(date(2026, 1, 1)) if i % 2 else state
            assert key in ids and key in pupils
        assert len(pupils) == 3_000
        del pupils["7"]
        assert "7" not in pupils and len(pupils) == 2_999
        with pytest.raises(KeyError):
            del pupils["7"]
        pupils.put_new("7", state)
        assert pupils["7"] == state and len(pupils) == 3_000
        assert sum(1 for _ in pupils.items()) == 3_000 and "x" not in ids
    finally:
        scratch.close()
