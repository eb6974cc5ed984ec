"""SIECLE snapshots: diffing, safety of the XML reading, all-or-nothing files."""

from __future__ import annotations

import tracemalloc
from datetime import date

import pytest

from hub.errors import InputError

from connectors.rectorat import siecle
from tests.connectors.helpers import UAI_B, UAI_LP, counts
from tests.connectors.siecle_files import eleve, export, write

AS_OF = date(2026, 3, 15)


def by_type(events):
    return sorted((e["event_type"], e["eleve_id"], e["event_date"], e.get("motif_sortie")) for e in events)


def state(harness, uaj=UAI_LP):
    return {k: v[0] for k, v in harness.snapshots.snapshots[uaj]["pupils"].items()}


async def test_first_snapshot(tmp_path, harness):
    p = write(tmp_path / "lp.xml", export([
        eleve("1", ine="123456789AB"),
        eleve("2", nom="MARTIN", sortie="10/01/2026", motif="05"),
        eleve("3", nom="BERNARD", prenom="Œdipe"),
    ]))
    r = await harness.run("rectorat", p)
    assert counts(r) == {"read": 3, "published": 3, "unchanged": 0, "filtered": 0, "rejected": 0, "warnings": 0, "events": 4}
    assert r.as_of == AS_OF and harness.sink.watermark_calls == [("rectorat", AS_OF)]
    assert by_type(harness.events) == [
        ("ELEVE_INSCRIT", "1", date(2025, 9, 2), None),
        ("ELEVE_INSCRIT", "2", date(2025, 9, 2), None),
        ("ELEVE_INSCRIT", "3", date(2025, 9, 2), None),
        ("ELEVE_SORTI", "2", date(2026, 1, 10), "05"),
    ]
    e = harness.events[0]
    assert e["source"] == "rectorat" and e["source_ref"] == "lp.xml:ELEVE[1]" and e["uai"] == UAI_LP
    assert e["person"] == {"ine": "123456789AB", "nom": "DUPONT", "prenom": "Élodie", "date_naissance": date(2008, 2, 14), "commune_residence": "86194"}
    assert harness.events[3]["person"]["prenom"] == "Œdipe"  # ISO-8859-15, not Latin-1
    assert {t for t, _, _ in harness.sink.published} == {"rectorat.eleves.v1"}
    assert harness.sink.published[0][1] == "123456789AB"
    assert state(harness) == {"1": False, "2": True, "3": False}
    assert harness.snapshots.snapshots[UAI_LP]["as_of"] == "2026-03-15"

    again = await harness.run("rectorat", p)
    assert counts(again) == {"read": 3, "published": 0, "unchanged": 3, "filtered": 0, "rejected": 0, "warnings": 0, "events": 0}


async def test_next_snapshot_exit_disappearance_and_new_pupil(tmp_path, harness):
    await harness.run("rectorat", write(tmp_path / "s1.xml", export([
        eleve("1"), eleve("2", nom="MARTIN", ine="223456789AB", commune="86041"), eleve("3", nom="GONE", sortie="10/01/2026"),
    ], date_export="15/03/2026")))
    n_before = len(harness.events)
    r = await harness.run("rectorat", write(tmp_path / "s2.xml", export([
        eleve("1", sortie="01/04/2026", motif="5"),
        eleve("4", nom="NOUVEAU", entree="02/04/2026"),
    ], date_export="15/04/2026")))
    # 2 read; pupil 2 disappeared (counted in events, not in read); pupil 3 already exited
    assert counts(r) == {"read": 2, "published": 2, "unchanged": 0, "filtered": 0, "rejected": 0, "warnings": 0, "events": 3}
    new = harness.events[n_before:]
    assert by_type(new) == [
        ("ELEVE_INSCRIT", "4", date(2026, 4, 2), None),
        ("ELEVE_SORTI", "1", date(2026, 4, 1), "05"),
        ("ELEVE_SORTI", "2", date(2026, 4, 15), "99"),
    ]
    gone = next(e for e in new if e["eleve_id"] == "2")
    assert gone["person"] == {"ine": "223456789AB", "nom": "MARTIN", "prenom": "Élodie", "date_naissance": date(2008, 2, 14), "commune_residence": "86041"}
    assert gone["source_ref"] == "s2.xml:ELEVE_ID=2:absent"
    assert state(harness) == {"1": True, "4": False}
    assert harness.sink.watermarks["rectorat"] == date(2026, 4, 15)


async def test_truncated_file_publishes_nothing_and_keeps_state(tmp_path, harness):
    await harness.run("rectorat", write(tmp_path / "s1.xml", export([eleve(str(i)) for i in range(1, 6)])))
    before = (list(harness.sink.published), dict(harness.snapshots.snapshots), list(harness.sink.watermark_calls))
    full = export([eleve("1"), eleve("2")], date_export="15/04/2026")
    cut = write(tmp_path / "s2.xml", full[: len(full) // 2])
    with pytest.raises(InputError, match="tronqué"):
        await harness.run("rectorat", cut)
    assert (harness.sink.published, harness.snapshots.snapshots, harness.sink.watermark_calls) == before
    assert harness.sink.dead_letters == []
    # the next good snapshot diffs against s1: pupils 3..5 gone, 1 and 2 unchanged
    r = await harness.run("rectorat", write(tmp_path / "s2.xml", full))
    assert (r.read, r.unchanged, r.events) == (2, 2, 3)
    assert sorted(e["eleve_id"] for e in harness.events[len(before[0]):]) == ["3", "4", "5"]


@pytest.mark.parametrize("cut", [b"", b"<?xml version='1.0'?>", b"<BEE_ELEVES><PARAMETRES>", b"not xml at all"])
async def test_malformed_files(tmp_path, harness, cut):
    with pytest.raises(InputError):
        await harness.run("rectorat", write(tmp_path / "bad.xml", cut))
    assert harness.sink.published == [] and harness.snapshots.snapshots == {}


async def test_transfer_between_establishments(tmp_path, harness):
    p = dict(ine="123456789AB", nom="DUPONT")
    await harness.run("rectorat", write(tmp_path / "a1.xml", export([eleve("10", **p)], uaj=UAI_LP, date_export="01/10/2025")))
    await harness.run("rectorat", write(tmp_path / "a2.xml", export([eleve("10", sortie="05/01/2026", motif="01", **p)], uaj=UAI_LP, date_export="15/01/2026")))
    await harness.run("rectorat", write(tmp_path / "b1.xml", export([eleve("77", entree="06/01/2026", **p)], uaj=UAI_B, date_export="15/01/2026")))
    assert [(e["event_type"], e["uai"], e["event_date"], e.get("motif_sortie")) for e in harness.events] == [
        ("ELEVE_INSCRIT", UAI_LP, date(2025, 9, 2), None),
        ("ELEVE_SORTI", UAI_LP, date(2026, 1, 5), "01"),
        ("ELEVE_INSCRIT", UAI_B, date(2026, 1, 6), None),
    ]
    assert {k for _, k, _ in harness.sink.published} == {"123456789AB"}


async def test_nom_or_nom_de_famille_and_utf8(tmp_path, harness):
    p = write(tmp_path / "old.xml", export([eleve("1", nom="ANCIEN", nom_tag="NOM"), eleve("2", nom="LÉGER")], encoding="UTF-8"))
    r = await harness.run("rectorat", p)
    assert r.published == 2 and [e["person"]["nom"] for e in harness.events] == ["ANCIEN", "LÉGER"]


@pytest.mark.parametrize("code, expected", [("", "99"), ("5", "05"), ("07", "07"), ("42", "99"), ("99", "99")])
async def test_exit_reasons(tmp_path, harness, code, expected):
    await harness.run("rectorat", write(tmp_path / "m.xml", export([eleve("1", sortie="10/01/2026", motif=code)])))
    assert harness.events[-1]["motif_sortie"] == expected


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<BEE_ELEVES><PARAMETRES><UAJ>0860012W</UAJ><DATE_EXPORT>&lol3;</DATE_EXPORT></PARAMETRES><DONNEES><ELEVES/></DONNEES></BEE_ELEVES>"""


async def test_billion_laughs_refused(tmp_path, harness):
    with pytest.raises(InputError, match="DTD"):
        await harness.run("rectorat", write(tmp_path / "lol.xml", BILLION_LAUGHS))
    assert harness.sink.published == []


async def test_external_entity_refused(tmp_path, harness):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
           f"<BEE_ELEVES><PARAMETRES><UAJ>{UAI_LP}</UAJ><DATE_EXPORT>15/03/2026</DATE_EXPORT></PARAMETRES>"
           f'<DONNEES><ELEVES><ELEVE ELEVE_ID="1"><NOM_DE_FAMILLE>&xxe;</NOM_DE_FAMILLE></ELEVE></ELEVES></DONNEES></BEE_ELEVES>')
    with pytest.raises(InputError) as exc:
        await harness.run("rectorat", write(tmp_path / "xxe.xml", xml.encode()))
    assert "TOP-SECRET" not in str(exc.value)
    assert harness.sink.published == [] and harness.sink.dead_letters == []


async def test_file_level_problems(tmp_path, harness):
    with pytest.raises(InputError, match="DATE_EXPORT"):
        await harness.run("rectorat", write(tmp_path / "a.xml", export([eleve("1")], date_export=None)))
    with pytest.raises(InputError, match="DATE_EXPORT"):
        await harness.run("rectorat", write(tmp_path / "b.xml", export([eleve("1")], date_export="15/13/2026")))
    with pytest.raises(InputError, match="UAJ"):
        await harness.run("rectorat", write(tmp_path / "c.xml", export([eleve("1")], uaj="0860012A")))
    with pytest.raises(InputError, match="racine"):
        await harness.run("rectorat", write(tmp_path / "d.xml", b"<OTHER><ELEVES/></OTHER>"))
    with pytest.raises(InputError, match="ELEVES"):
        await harness.run("rectorat", write(tmp_path / "e.xml", export([]).replace(b"<ELEVES></ELEVES>", b"")))
    with pytest.raises(InputError, match="aucun fichier"):
        await harness.run("rectorat", (tmp_path / "empty").mkdir() or tmp_path / "empty")
    with pytest.raises(InputError, match="introuvable"):
        await harness.run("rectorat", tmp_path / "nope.xml")
    assert harness.sink.published == []
    # without DATE_EXPORT, --as-of is enough
    r = await harness.run("rectorat", tmp_path / "a.xml", as_of=date(2026, 3, 1))
    assert r.published == 1 and r.as_of == date(2026, 3, 1)


async def test_element_order_free_unknown_elements_ignored(tmp_path, harness):
    noise = "<OPTIONS><OPTION ELEVE_ID='1'><CODE>X</CODE></OPTION></OPTIONS><STRUCTURES><ELEVE ELEVE_ID='9'/></STRUCTURES>"
    p = write(tmp_path / "o.xml", export([eleve("1", extra="<ADRESSE><LIGNE1>x</LIGNE1></ADRESSE><INCONNU/>")], params_last=True, extra=noise))
    r = await harness.run("rectorat", p)
    assert (r.read, r.published, r.as_of) == (1, 1, AS_OF)  # the ELEVE under STRUCTURES is not a pupil


@pytest.mark.parametrize(
    "bad, reason",
    [
        (eleve(""), "MISSING_FIELD"),
        (eleve("2", naiss="14/02/08"), "BAD_DATE"),
        (eleve("2", entree=""), "MISSING_FIELD"),
        (eleve("2", nom=""), "MISSING_FIELD"),
        (eleve("2", commune="ABCDE"), "BAD_COMMUNE"),
        (eleve("2", sortie="32/01/2026"), "BAD_DATE"),
        (eleve("1", nom="DOUBLON"), "BAD_VALUE"),  # duplicated ELEVE_ID
        (eleve("2", entree="16/03/2026"), "FUTURE_DATE"),
    ],
)
async def test_rejections(tmp_path, harness, bad, reason):
    r = await harness.run("rectorat", write(tmp_path / "r.xml", export([eleve("1"), bad])))
    assert (r.read, r.published, r.rejected) == (2, 1, 1)
    (topic, dl), = harness.sink.dead_letters
    assert topic == "rectorat.eleves.v1.dlq" and dl["reason"] == reason and dl["position"] == "ELEVE[2]"
    assert dl["raw"].startswith("<ELEVE") and dl["file"] == "r.xml"
    assert list(state(harness)) == ["1"]


async def test_rejected_known_pupil_is_not_an_exit_and_future_enrolment_waits(tmp_path, harness):
    await harness.run("rectorat", write(tmp_path / "1.xml", export([eleve("1"), eleve("2")], date_export="01/03/2026")))
    n = len(harness.events)
    r = await harness.run("rectorat", write(tmp_path / "2.xml", export(
        [eleve("1", naiss="bad"), eleve("2"), eleve("3", entree="20/03/2026")], date_export="15/03/2026")))
    assert (r.rejected, r.unchanged, r.events) == (2, 1, 0) and len(harness.events) == n
    assert sorted(harness.reasons()) == ["BAD_DATE", "FUTURE_DATE"]
    assert state(harness) == {"1": False, "2": False}
    r = await harness.run("rectorat", write(tmp_path / "3.xml", export([eleve("1"), eleve("2"), eleve("3", entree="20/03/2026")], date_export="01/04/2026")))
    assert (r.published, r.unchanged) == (1, 2) and harness.events[-1]["eleve_id"] == "3"


async def test_under_15_filter_uses_event_date(tmp_path, harness):
    young = dict(naiss="01/01/2011", nom="JEUNE")  # 14 on 02/09/2025, 15 on 01/01/2026
    r = await harness.run("rectorat", write(tmp_path / "1.xml", export([eleve("1", **young)], date_export="01/12/2025")))
    assert (r.read, r.filtered, r.published, len(harness.events)) == (1, 1, 0, 0)
    assert state(harness) == {"1": False}
    r = await harness.run("rectorat", write(tmp_path / "2.xml", export([eleve("1", sortie="01/02/2026", **young)], date_export="15/02/2026")))
    assert r.published == 1 and by_type(harness.events) == [("ELEVE_SORTI", "1", date(2026, 2, 1), "99")]
    # first seen at 14 with an exit at 14: both filtered, and the exit counts as handled
    r = await harness.run("rectorat", write(tmp_path / "3.xml", export([eleve("2", sortie="01/12/2025", **young)], uaj=UAI_B)))
    assert r.filtered == 1 and state(harness, UAI_B) == {"2": True}


async def test_directory_batch(tmp_path, harness):
    d = tmp_path / "batch"
    write(d / "b.xml", export([eleve("1")], uaj=UAI_B, date_export="10/03/2026"))
    write(d / "a.XML", export([eleve("1"), eleve("2")], uaj=UAI_LP, date_export="15/03/2026"))
    write(d / "notes.txt", b"ignored")
    r = await harness.run("rectorat", d)
    assert (r.read, r.published, r.events) == (3, 3, 3)
    assert r.as_of == date(2026, 3, 10)  # the earliest DATE_EXPORT
    assert r.files == ["b.xml", "a.XML"]
    assert set(harness.snapshots.snapshots) == {UAI_LP, UAI_B}


async def test_directory_batch_with_a_bad_file_publishes_nothing(tmp_path, harness):
    d = tmp_path / "batch"
    write(d / "a.xml", export([eleve("1")]))
    write(d / "z.xml", export([eleve("1")], uaj=UAI_B)[:-40])
    with pytest.raises(InputError, match="z.xml"):
        await harness.run("rectorat", d)
    assert harness.sink.published == [] and harness.snapshots.snapshots == {}


async def test_same_establishment_twice_in_a_batch(tmp_path, harness):
    d = tmp_path / "batch"
    write(d / "x-april.xml", export([eleve("1", sortie="01/04/2026")], date_export="15/04/2026"))
    write(d / "y-march.xml", export([eleve("1"), eleve("2")], date_export="15/03/2026"))
    r = await harness.run("rectorat", d)
    assert by_type(harness.events) == [
        ("ELEVE_INSCRIT", "1", date(2025, 9, 2), None),
        ("ELEVE_INSCRIT", "2", date(2025, 9, 2), None),
        ("ELEVE_SORTI", "1", date(2026, 4, 1), "99"),
        ("ELEVE_SORTI", "2", date(2026, 4, 15), "99"),
    ]
    assert (r.read, r.as_of) == (3, date(2026, 3, 15))
    assert harness.snapshots.snapshots[UAI_LP]["as_of"] == "2026-04-15"


async def test_order_of_two_exports_does_not_change_the_events(tmp_path):
    """An export older than the saved snapshot is diffed as if it had come first."""
    from tests.connectors.helpers import Harness

    s1 = write(tmp_path / "s1.xml", export([eleve("1"), eleve("2"), eleve("3", sortie="01/02/2026", motif="04"), eleve("5")], date_export="01/03/2026"))
    s2 = write(tmp_path / "s2.xml", export([eleve("1", sortie="20/03/2026"), eleve("3", sortie="01/02/2026", motif="04"),
                                            eleve("4", entree="05/03/2026"), eleve("5")], date_export="01/04/2026"))
    seen = []
    for order in ([s1, s2], [s2, s1]):
        h = Harness()
        for f in order:
            await h.run("rectorat", f)
        seen.append(sorted((e["event_id"], e["event_type"], e["eleve_id"], e["event_date"]) for e in h.events))
        assert h.snapshots.snapshots[UAI_LP]["as_of"] == "2026-04-01"
        assert h.sink.watermarks["rectorat"] == date(2026, 4, 1)
    assert seen[0] == seen[1]
    sortis = {(i, d) for _, t, i, d in seen[0] if t == "ELEVE_SORTI"}
    assert sortis == {("1", date(2026, 3, 20)), ("2", date(2026, 4, 1)), ("3", date(2026, 2, 1))}
    # and the state reached is the same: a third export gives the same events either way
    s3 = write(tmp_path / "s3.xml", export([eleve("4", entree="05/03/2026")], date_export="01/05/2026"))
    after = []
    for order in ([s1, s2, s3], [s2, s1, s3]):
        h = Harness()
        for f in order:
            await h.run("rectorat", f)
        after.append(sorted(e["event_id"] for e in h.events))
    assert after[0] == after[1]


async def test_return_after_exit_is_a_new_enrolment(tmp_path, harness):
    await harness.run("rectorat", write(tmp_path / "1.xml", export([eleve("1", sortie="10/01/2026")], date_export="15/01/2026")))
    r = await harness.run("rectorat", write(tmp_path / "2.xml", export([eleve("1", entree="02/03/2026")], date_export="15/03/2026")))
    assert r.published == 1 and harness.events[-1]["event_type"] == "ELEVE_INSCRIT" and harness.events[-1]["event_date"] == date(2026, 3, 2)
    assert state(harness) == {"1": False}


async def test_invalid_ine_warning(tmp_path, harness):
    r = await harness.run("rectorat", write(tmp_path / "i.xml", export([eleve("1", ine="XYZ")])))
    assert (r.published, r.warnings) == (1, 1) and harness.events[0]["person"]["ine"] is None


def test_single_pupil_validate_api():
    from connectors import get_connector, make_context
    from connectors.core.types import Mapped, Rejected
    from tests.connectors.helpers import SETTINGS

    conn = get_connector("rectorat")
    ctx = make_context(conn, settings=SETTINGS)
    ok = conn.validate({"UAJ": UAI_LP, "ELEVE_ID": "1", "NOM": "X", "PRENOM": "Y", "DATE_NAISS": "01/01/2008",
                        "DATE_ENTREE": "02/09/2025", "DATE_SORTIE": "01/02/2026", "CODE_MOTIF_SORTIE": "03"}, ctx)
    assert isinstance(ok, Mapped) and [e["event_type"] for e in ok.events] == ["ELEVE_INSCRIT", "ELEVE_SORTI"]
    bad = conn.validate({"UAJ": "x"}, ctx)
    assert isinstance(bad, Rejected) and bad.reason == "BAD_UAI"


def test_scan_memory_is_flat(tmp_path):
    n = 30_000
    big = write(tmp_path / "big.xml", export([eleve(str(i), extra="<X>" + "y" * 200 + "</X>") for i in range(n)]))
    assert big.stat().st_size > 15_000_000
    tracemalloc.start()
    try:
        info = siecle.scan(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.eleves == n and info.uaj == UAI_LP
    assert peak < 3_000_000, peak
