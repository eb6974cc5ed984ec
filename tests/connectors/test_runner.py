"""The shared ingest loop: accounting, ordering of flush/watermark, large files."""

from __future__ import annotations

import time
from datetime import date

import pytest

from connectors import SOURCES, get_connector, run_ingest
from connectors.core.memory import MemorySeenEvents, MemorySink
from connectors.core.types import REPLAY_AS_OF, IngestResult, SeenEvents, Sink
from hub.errors import InputError
from tests.connectors.helpers import SIRET, UAI_CFA, write_csv

HEADER = "numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;evenement;date_evenement;date_debut_contrat;cause_rupture"


def line(i: int) -> str:
    return f"C{i:06d};{UAI_CFA};{SIRET};;NOM{i};Prénom;14/02/2007;86194;N;CONTRAT_SIGNE;01/09/2025;01/09/2025;"


async def test_malformed_line_in_100k_costs_exactly_that_line(tmp_path, harness):
    rows = [line(i) for i in range(100_000)]
    rows[54_321] += ";extra"  # a broken line in the middle: 14 fields
    p = write_csv(tmp_path / "big.csv", HEADER, rows)
    calls = []
    t0 = time.perf_counter()
    r = await harness.run("cfa", p, progress=lambda done, total: calls.append((done, total)))
    elapsed = time.perf_counter() - t0
    assert r.to_json() == {"source": "cfa", "read": 100_000, "published": 99_999, "unchanged": 0, "filtered": 0,
                           "rejected": 1, "warnings": 0, "events": 99_999, "as_of": "2025-09-01"}
    (dl,) = harness.dlq
    assert dl["position"] == "line 54323" and dl["reason"] == "BAD_VALUE" and dl["row"] is None
    assert calls and calls[-1][0] == calls[-1][1] == p.stat().st_size
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    assert elapsed < 60


class OrderSink(MemorySink):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []

    async def publish(self, topic, key, event):
        self.log.append("publish")
        await super().publish(topic, key, event)

    async def flush(self):
        self.log.append("flush")
        await super().flush()

    async def watermark(self, source, as_of):
        self.log.append("watermark")
        await super().watermark(source, as_of)


async def test_flush_then_watermark_and_seen_loaded(tmp_path):
    sink, seen = OrderSink(), MemorySeenEvents()
    assert isinstance(sink, Sink) and isinstance(seen, SeenEvents)
    r = await run_ingest(get_connector("cfa"), write_csv(tmp_path / "a.csv", HEADER, [line(1)]), sink=sink, seen=seen)
    assert sink.log == ["publish", "flush", "watermark"]
    assert seen.loaded == [["cfa.contrats.v1"]]
    assert r.as_of == date(2025, 9, 1)


async def test_watermark_never_called_without_as_of(tmp_path, harness):
    r = await harness.run("cfa", write_csv(tmp_path / "e.csv", HEADER, ["x;y"]))
    assert (r.read, r.rejected, r.as_of) == (1, 1, None) and harness.sink.watermark_calls == []
    r = await harness.run("cfa", write_csv(tmp_path / "h.csv", HEADER, []))
    assert r.read == 0 and r.to_json()["as_of"] is None


async def test_as_of_override_and_older_file(tmp_path, harness):
    await harness.run("cfa", write_csv(tmp_path / "a.csv", HEADER, [line(1)]), as_of=date(2026, 1, 31))
    await harness.run("cfa", write_csv(tmp_path / "b.csv", HEADER, [line(2)]), as_of=date(2025, 12, 31))
    assert [d for _, d in harness.sink.watermark_calls] == [date(2026, 1, 31), date(2025, 12, 31)]
    assert harness.sink.watermarks["cfa"] == date(2026, 1, 31)  # the sink keeps the latest
    assert len(harness.events) == 2  # the older file still publishes


async def test_dead_letters_carry_the_as_of_they_were_checked_against(tmp_path, harness):
    """`hub dlq replay` validates a dead letter against the as-of of its ingest: the row
    carries it (under REPLAY_AS_OF) when the run had one to check against."""
    rows = [line(1), line(2).replace("CONTRAT_SIGNE;01/09/2025", "CONTRAT_SIGNE;01/10/2025"),
            line(3).replace(SIRET, "12345678901234"), line(4) + ";x"]
    p = write_csv(tmp_path / "a.csv", HEADER, rows)
    await harness.run("cfa", p, as_of=date(2025, 9, 30))
    assert harness.reasons() == ["FUTURE_DATE", "BAD_SIRET", "BAD_VALUE"]
    assert [dl["row"][REPLAY_AS_OF] for dl in harness.dlq] == ["2025-09-30"] * 3
    assert harness.dlq[0]["row"]["numero_contrat"] == "C000002" and set(harness.dlq[2]["row"]) == {REPLAY_AS_OF}
    # the default as-of is known only at the end of the file, and no row is checked against it
    harness.sink.dead_letters.clear()
    await harness.run("cfa", p)
    assert harness.reasons() == ["BAD_SIRET", "BAD_VALUE"]
    assert REPLAY_AS_OF not in harness.dlq[0]["row"] and harness.dlq[1]["row"] is None


async def test_csv_source_refuses_a_directory(tmp_path, harness):
    with pytest.raises(InputError, match="dossier"):
        await harness.run("cfa", tmp_path)


def test_a_record_refused_about_someone_under_15_is_filtered_over_http_too():
    """check_record (HTTP, `hub dlq replay`) applies runner.screen_rejected as ingests
    do: a refused record whose valid dates show a person under 15 is Filtered (202,
    nothing published), not a 422 that would echo it back."""
    from connectors import check_record, make_context
    from connectors.core.types import Filtered, Rejected
    from tests.connectors.helpers import SETTINGS

    conn = get_connector("absenteisme")
    ctx = make_context(conn, settings=SETTINGS, as_of=date(2026, 3, 31))
    row = {"uai": "0860012X", "nom": "N", "prenom": "P", "date_naissance": "01/03/2011", "mois": "2026-02",
           "demi_journees_non_justifiees": "1", "demi_journees_justifiees": "0"}
    assert isinstance(check_record(conn, row, ctx), Filtered)  # 14 on 28/02/2026
    assert isinstance(check_record(conn, {**row, "mois": "2026-03"}, ctx), Rejected)  # 15 on 31/03/2026
    assert isinstance(check_record(conn, {**row, "mois": "13/2026"}, ctx), Rejected)  # 15 at the as-of
    assert isinstance(check_record(conn, {**row, "date_naissance": ""}, ctx), Rejected)


def test_accounting_check():
    r = IngestResult("cfa", read=3, published=1, unchanged=1, filtered=0, rejected=0)
    with pytest.raises(RuntimeError, match="incohérent"):
        r.check()


def test_registry():
    assert SOURCES == ("rectorat", "absenteisme", "mission-locale", "cfa", "cti")
    assert {get_connector(s).source for s in SOURCES} == set(SOURCES)
    with pytest.raises(InputError):
        get_connector("suivi")


def test_trim_heap_gives_freed_pages_back_on_glibc():
    """The flush's malloc_trim (a big ingest's RSS otherwise grows with the file)."""
    import sys

    from connectors.core import runner

    if sys.platform.startswith("linux"):
        assert runner._MALLOC_TRIM is not None
    blocks = [bytearray(64 * 1024) for _ in range(2000)]  # 128 MiB, then freed
    del blocks
    runner.trim_heap()  # must not raise, on any platform
