"""SIECLE snapshots: diffing, safety of the XML reading, all-or-nothing files."""

from __future__ import annotations

import itertools
import tracemalloc
from datetime import date

import pytest

from hub.errors import InputError

from connectors.core import parallel
from connectors.rectorat import siecle
from tests.connectors.helpers import UAI_B, UAI_LP, Harness, counts
from tests.connectors.siecle_files import eleve, export, write

AS_OF = date(2026, 3, 15)


@pytest.fixture(autouse=True, params=["0", "1"], ids=["one-process", "workers"])
def worker_mode(request, monkeypatch):
    """Every test twice: pupils mapped in this process, and by forked workers applying
    their settlements here (connectors.core.parallel) — the same results either way."""
    monkeypatch.setenv(parallel.ENV, request.param)
    return request.param


def by_type(events):
    return sorted((e["event_type"], e["eleve_id"], e["event_date"], e.get("motif_sortie")) for e in events)


def state(harness, uaj=UAI_LP):
    """ELEVE_ID → exited? (None: listed, refused, never accepted)."""
    return {k: None if v == [False] else v[0] for k, v in harness.snapshots.snapshots[uaj]["pupils"].items()}


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
        eleve("1", sortie="01/04/2026", motif="05"),
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
    # Exited pupils are remembered, compact (exit date, no identity): 2 by disappearance.
    assert state(harness) == {"1": True, "2": True, "3": True, "4": False}
    pupils = harness.snapshots.snapshots[UAI_LP]["pupils"]
    assert (pupils["1"], pupils["2"], pupils["3"]) == ([True, "2026-04-01"], [True, "2026-04-15"], [True, "2026-01-10"])
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


@pytest.mark.parametrize("code, expected", [("", "99"), ("5", "99"), ("7", "99"), ("07", "07"), (" 04 ", "04"),
                                            ("42", "99"), ("99", "99")])
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


async def test_a_child_element_wins_over_an_attribute_of_the_same_name(tmp_path, harness):
    # An empty DATE_SORTIE attribute must not hide the exit the element states.
    pupil = eleve("1", sortie="10/01/2026", motif="05").replace("<ELEVE ", "<ELEVE DATE_SORTIE='' ", 1)
    assert "DATE_SORTIE=''" in pupil
    r = await harness.run("rectorat", write(tmp_path / "a.xml", export([pupil])))
    assert r.events == 2
    assert sorted(e["event_type"] for e in harness.events) == ["ELEVE_INSCRIT", "ELEVE_SORTI"]


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
        (eleve("2", naiss="14/02/0008"), "BAD_DATE"),  # a year no fact of the hub has
        (eleve("2", nom="N" * 2001), "BAD_VALUE"),  # longer than any field
        (eleve("2", nom="- . -"), "BAD_VALUE"),  # no letter: an empty name key
    ],
)
async def test_rejections(tmp_path, harness, bad, reason):
    r = await harness.run("rectorat", write(tmp_path / "r.xml", export([eleve("1"), bad])))
    assert (r.read, r.published, r.rejected) == (2, 1, 1)
    (topic, dl), = harness.sink.dead_letters
    assert topic == "rectorat.eleves.v1.dlq" and dl["reason"] == reason and dl["position"] == "ELEVE[2]"
    assert dl["raw"].startswith("<ELEVE") and dl["file"] == "r.xml"
    # A refused pupil with an ELEVE_ID of their own is remembered as listed, not accepted.
    assert state(harness) == ({"1": False, "2": None} if 'ELEVE_ID="2"' in bad else {"1": False})


async def test_rejected_known_pupil_is_not_an_exit_and_future_enrolment_waits(tmp_path, harness):
    await harness.run("rectorat", write(tmp_path / "1.xml", export([eleve("1"), eleve("2")], date_export="01/03/2026")))
    n = len(harness.events)
    r = await harness.run("rectorat", write(tmp_path / "2.xml", export(
        [eleve("1", naiss="bad"), eleve("2"), eleve("3", entree="20/03/2026")], date_export="15/03/2026")))
    assert (r.rejected, r.unchanged, r.events) == (2, 1, 0) and len(harness.events) == n
    assert sorted(harness.reasons()) == ["BAD_DATE", "FUTURE_DATE"]
    assert state(harness) == {"1": False, "2": False, "3": None}
    r = await harness.run("rectorat", write(tmp_path / "3.xml", export([eleve("1"), eleve("2"), eleve("3", entree="20/03/2026")], date_export="01/04/2026")))
    assert (r.published, r.unchanged) == (1, 2) and harness.events[-1]["eleve_id"] == "3"


@pytest.mark.parametrize("newer_first", [False, True])
async def test_a_pupil_refused_in_the_newer_export_is_not_absent_from_it(tmp_path, newer_first):
    """Listed in the newer export but refused there (no name), the pupil was not absent
    from it: ingested in either order, the exports give the enrolment and no exit by
    disappearance (found by a differential audit of the diff). Fixed in a third export,
    nothing more is published."""
    older = write(tmp_path / "a.xml", export([eleve("1", naiss="04/10/2008")], date_export="14/10/2025"))
    newer = write(tmp_path / "b.xml", export([eleve("1", naiss="04/10/2008", nom="")], date_export="21/11/2025"))
    harness = Harness()
    for path in ([newer, older] if newer_first else [older, newer]):
        await harness.run("rectorat", path)
    assert by_type(harness.events) == [("ELEVE_INSCRIT", "1", date(2025, 9, 2), None)]
    assert state(harness) == {"1": False}
    r = await harness.run("rectorat", write(tmp_path / "c.xml", export([eleve("1", naiss="04/10/2008")],
                                                                     date_export="05/12/2025")))
    assert (r.published, r.unchanged, len(harness.events)) == (0, 1, 1)


@pytest.mark.parametrize("on_disk", [False, True], ids=["memory", "scratch"])
async def test_a_pupil_refused_then_fixed_is_enrolled_and_one_refused_then_gone_never_exits(
        tmp_path, harness, monkeypatch, on_disk):
    if on_disk:  # the diff's tables in the scratch RocksDB, as for a huge export
        monkeypatch.setattr("connectors.rectorat.connector.MEMORY_LIMIT", 1)
    await harness.run("rectorat", write(tmp_path / "1.xml", export(
        [eleve("1"), eleve("2", nom=""), eleve("3", nom="")], date_export="01/03/2026")))
    assert state(harness) == {"1": False, "2": None, "3": None} and len(harness.events) == 1
    r = await harness.run("rectorat", write(tmp_path / "2.xml", export([eleve("1"), eleve("2")],
                                                                     date_export="15/03/2026")))
    assert (r.published, r.unchanged) == (1, 1)
    assert by_type(harness.events[1:]) == [("ELEVE_INSCRIT", "2", date(2025, 9, 2), None)]  # 3: no exit
    assert state(harness) == {"1": False, "2": False}


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


async def test_a_refused_pupil_under_15_at_the_export_is_filtered_not_dead_lettered(tmp_path, harness):
    """A pupil refused for a field (or a repeated ELEVE_ID) who is under 15 at the
    export's as-of — so at every date the export may state — is filtered: no dead
    letter carries them (rules.md §2). At 15 they are dead-lettered as usual."""
    young = dict(naiss="01/06/2011")  # 14 on 15/03/2026
    p = write(tmp_path / "y.xml", export([
        eleve("1", commune="8619", **young),  # BAD_COMMUNE, 14 → filtered
        eleve("2", **young), eleve("2", nom="AUTRE", **young),  # a repeated ELEVE_ID, 14 → filtered
        eleve("3", commune="8619", naiss="01/03/2011"),  # 15 at the as-of → rejected
        eleve("4", commune="8619", naiss="bad"),  # no birth date → rejected
    ]))
    r = await harness.run("rectorat", p)
    assert counts(r) == {"read": 5, "published": 0, "unchanged": 0, "filtered": 3, "rejected": 2, "warnings": 0,
                         "events": 0}
    assert [d["position"] for d in harness.dlq] == ["ELEVE[4]", "ELEVE[5]"]
    # the first "2", filtered as valid; the others listed, not accepted
    assert state(harness) == {"1": None, "2": False, "3": None, "4": None}


async def test_a_repeated_eleve_id_is_refused_again_by_a_replay(tmp_path, harness):
    """The refusal of a repeated ELEVE_ID holds on the file, not the record: its dead
    letter says so, and validating it again (`hub dlq replay`) refuses it again, where
    the record alone would pass."""
    from connectors import check_record, get_connector, make_context
    from connectors.core.types import REPLAY_AS_OF, Accepted, Rejected
    from connectors.rectorat.connector import DUPLICATE
    from tests.connectors.helpers import SETTINGS

    await harness.run("rectorat", write(tmp_path / "d.xml", export([eleve("1"), eleve("1", prenom="Autre")])))
    (dl,) = harness.dlq
    assert (dl["reason"], dl["position"], dl["row"][DUPLICATE]) == ("BAD_VALUE", "ELEVE[2]", "1")
    conn = get_connector("rectorat")
    ctx = make_context(conn, settings=SETTINGS, as_of=date.fromisoformat(dl["row"][REPLAY_AS_OF]))
    row = {k: v for k, v in dl["row"].items() if k != REPLAY_AS_OF}
    again = check_record(conn, row, ctx)
    assert isinstance(again, Rejected) and (again.reason, again.detail) == (dl["reason"], dl["detail"])
    alone = check_record(conn, {k: v for k, v in row.items() if k != DUPLICATE}, ctx)
    assert isinstance(alone, Accepted)


async def test_under_15_pupil_stays_filtered_on_reingest(tmp_path, harness):
    """inputs.md: `unchanged` is "already published before". A pupil filtered when first
    seen was never published: every re-ingest counts them `filtered` again, as the CSV
    sources do. One published since (an exit at 15) makes the record `unchanged`."""
    p = write(tmp_path / "lp.xml", export([
        eleve("1"),
        eleve("2", nom="JEUNE", naiss="01/01/2012"),  # 13 on 02/09/2025
        eleve("3", nom="PARTI", naiss="01/01/2012", sortie="10/01/2026"),  # enrolled and left at 14
        eleve("4", nom="QUINZE", naiss="01/01/2011", sortie="01/02/2026"),  # enrolled at 14, left at 15
    ]))
    first = await harness.run("rectorat", p)
    assert counts(first) == {"read": 4, "published": 2, "unchanged": 0, "filtered": 2, "rejected": 0, "warnings": 0, "events": 2}
    for _ in range(2):
        again = await harness.run("rectorat", p)
        assert counts(again) == {"read": 4, "published": 0, "unchanged": 2, "filtered": 2, "rejected": 0, "warnings": 0, "events": 0}
    assert state(harness) == {"1": False, "2": False, "3": True, "4": True}
    # a newer export: the young pupil still listed is still filtered
    r = await harness.run("rectorat", write(tmp_path / "lp2.xml", export([
        eleve("1"), eleve("2", nom="JEUNE", naiss="01/01/2012")], date_export="15/04/2026")))
    assert (r.read, r.unchanged, r.filtered, r.events) == (2, 1, 1, 0)


async def test_dead_letter_carries_what_a_replay_validates(tmp_path, harness):
    """The UAJ comes from PARAMETRES, not from the ELEVE: the dead letter's row carries it,
    and the as-of the pupil was checked against, so that `hub dlq replay` validates the
    record as the ingest did (connectors.core.types.REPLAY_AS_OF)."""
    from connectors import check_record, get_connector, make_context
    from connectors.core.types import REPLAY_AS_OF, Accepted, Rejected
    from tests.connectors.helpers import SETTINGS

    p = write(tmp_path / "r.xml", export([eleve("1", prenom=""), eleve("2", entree="16/03/2026")]))
    await harness.run("rectorat", p)
    missing, future = harness.dlq
    assert (missing["reason"], future["reason"]) == ("MISSING_FIELD", "FUTURE_DATE")
    for dl in (missing, future):
        assert dl["row"]["uaj"] == UAI_LP and dl["row"][REPLAY_AS_OF] == "2026-03-15"
    conn = get_connector("rectorat")
    ctx = make_context(conn, settings=SETTINGS, as_of=date.fromisoformat(future["row"][REPLAY_AS_OF]))
    again = check_record(conn, {k: v for k, v in missing["row"].items() if k != REPLAY_AS_OF}, ctx)
    assert isinstance(again, Rejected) and again.reason == "MISSING_FIELD" and again.detail == missing["detail"]
    fixed = check_record(conn, {**missing["row"], "prenom": "Léa"}, ctx)
    assert isinstance(fixed, Accepted) and fixed.events[0][1]["uai"] == UAI_LP
    again = check_record(conn, future["row"], ctx)
    assert isinstance(again, Rejected) and (again.reason, again.detail) == ("FUTURE_DATE", future["detail"])


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


@pytest.mark.parametrize("odd", ["dangling-link", "folder"])
async def test_a_directory_entry_named_xml_that_is_no_file_refuses_the_batch(tmp_path, harness, odd):
    d = tmp_path / "batch"
    write(d / "a.xml", export([eleve("1")]))
    if odd == "dangling-link":
        (d / "b.xml").symlink_to(tmp_path / "nowhere.xml")
    else:
        (d / "b.xml").mkdir()
    with pytest.raises(InputError, match="b.xml: pas un fichier lisible"):
        await harness.run("rectorat", d)
    assert harness.sink.published == [] and harness.snapshots.snapshots == {}


async def test_a_directory_batch_checks_each_file_against_its_own_export_date(tmp_path, harness):
    """The batch's as-of (its watermark) is the oldest export; a pupil of a newer export
    dated after it, not after their own export, is published (FUTURE_DATE is "after the
    file's as-of")."""
    d = tmp_path / "batch"
    write(d / "a.xml", export([eleve("1")], uaj=UAI_B, date_export="10/03/2026"))
    write(d / "b.xml", export([eleve("2", entree="15/03/2026"), eleve("3", entree="21/03/2026")],
                              date_export="20/03/2026"))
    r = await harness.run("rectorat", d)
    assert (r.as_of, r.read, r.published, r.rejected) == (date(2026, 3, 10), 3, 2, 1)
    assert [(e["eleve_id"], e["event_date"]) for e in harness.events if e["eleve_id"] == "2"] == [("2", date(2026, 3, 15))]
    assert [(dl["reason"], dl["file"], dl["position"]) for dl in harness.dlq] == [("FUTURE_DATE", "b.xml", "ELEVE[2]")]


async def test_with_as_of_two_exports_of_one_establishment_are_diffed_in_the_order_they_were_made(tmp_path, harness):
    """--as-of gives every file of the batch the same as-of; the file names sort February
    first: January's export must still be the base February's is diffed against."""
    d = tmp_path / "batch"
    write(d / "b-janvier.xml", export([eleve("31"), eleve("32")], date_export="15/01/2026"))
    write(d / "a-fevrier.xml", export([eleve("31")], date_export="15/02/2026"))
    await harness.run("rectorat", d, as_of=date(2026, 2, 15))
    assert by_type(harness.events) == [
        ("ELEVE_INSCRIT", "31", date(2025, 9, 2), None),
        ("ELEVE_INSCRIT", "32", date(2025, 9, 2), None),
        ("ELEVE_SORTI", "32", date(2026, 2, 15), "99"),
    ]
    assert state(harness)["32"] != state(harness)["31"]  # 32 has left, in the saved state


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


async def test_a_stale_export_with_as_of_keeps_the_exit_the_newer_one_implies(tmp_path):
    """With `--as-of`, an export older than the saved snapshot still gives the exit by
    disappearance the newer export implies, dated by that newer export: it is checked
    against that export's as-of, not against the stale file's `--as-of`."""
    from tests.connectors.helpers import Harness

    s1 = write(tmp_path / "s1.xml", export([eleve("1"), eleve("2")], date_export="01/03/2026"))
    s2 = write(tmp_path / "s2.xml", export([eleve("1")], date_export="01/04/2026"))
    h = Harness()
    await h.run("rectorat", s2, as_of=date(2026, 4, 1))
    r = await h.run("rectorat", s1, as_of=date(2026, 3, 1))
    assert r.rejected == 0
    assert {(e["eleve_id"], e["event_type"], e["event_date"]) for e in h.events if e["eleve_id"] == "2"} == {
        ("2", "ELEVE_INSCRIT", date(2025, 9, 2)), ("2", "ELEVE_SORTI", date(2026, 4, 1))}


async def test_return_after_exit_is_a_new_enrolment(tmp_path, harness):
    await harness.run("rectorat", write(tmp_path / "1.xml", export([eleve("1", sortie="10/01/2026")], date_export="15/01/2026")))
    r = await harness.run("rectorat", write(tmp_path / "2.xml", export([eleve("1", entree="02/03/2026")], date_export="15/03/2026")))
    assert r.published == 1 and harness.events[-1]["event_type"] == "ELEVE_INSCRIT" and harness.events[-1]["event_date"] == date(2026, 3, 2)
    assert state(harness) == {"1": False}


async def test_a_return_with_the_same_date_entree_is_dated_by_the_export(tmp_path, harness):
    """An exit, then an export listing the pupil again with the DATE_ENTREE of before the
    exit (an exit cancelled, a pupil missing from one export): the return is enrolled at
    that export's date (an ELEVE_INSCRIT at the old DATE_ENTREE would be the first
    enrolment again, already published), so a later disappearance is a second departure
    after a return, never a second exit in a row."""
    await harness.run("rectorat", write(tmp_path / "1.xml", export([eleve("1", sortie="10/01/2026")],
                                                                     date_export="15/01/2026")))
    r = await harness.run("rectorat", write(tmp_path / "2.xml", export([eleve("1")], date_export="15/02/2026")))
    assert (r.published, r.unchanged) == (1, 0)
    assert state(harness) == {"1": False}
    r = await harness.run("rectorat", write(tmp_path / "3.xml", export([], date_export="15/03/2026")))
    assert by_type(harness.events) == [
        ("ELEVE_INSCRIT", "1", date(2025, 9, 2), None),
        ("ELEVE_INSCRIT", "1", date(2026, 2, 15), None),
        ("ELEVE_SORTI", "1", date(2026, 1, 10), "99"),
        ("ELEVE_SORTI", "1", date(2026, 3, 15), "99"),
    ]
    # Re-ingesting the export of the return changes nothing.
    r = await harness.run("rectorat", write(tmp_path / "2.xml", export([eleve("1")], date_export="15/02/2026")))
    assert (r.published, r.unchanged) == (0, 1)


async def test_an_older_export_stating_an_earlier_exit_publishes_it_with_its_reason(tmp_path, harness):
    """E1 lists pupil 2; E2 says they left on 01/02 with a diploma (04); E3 lacks them.
    Ingested E1, E3, E2: E3 gives the exit by disappearance (99 at E3's date), then E2
    adds the stated exit, earlier, with its reason — the events of the date order plus
    the disappearance, which the rule core ignores (a second exit from a school already
    left). In date order, E3 adds nothing for them."""
    def files(tag):
        return (write(tmp_path / f"e1{tag}.xml", export([eleve("1"), eleve("2")], date_export="15/01/2026")),
                write(tmp_path / f"e2{tag}.xml", export([eleve("1"), eleve("2", sortie="01/02/2026", motif="04")],
                                                         date_export="15/02/2026")),
                write(tmp_path / f"e3{tag}.xml", export([eleve("1")], date_export="15/03/2026")))

    e1, e2, e3 = files("a")
    for f in (e1, e3, e2):
        await harness.run("rectorat", f)
    exits = [e for e in by_type(harness.events) if e[0] == "ELEVE_SORTI"]
    assert exits == [("ELEVE_SORTI", "2", date(2026, 2, 1), "04"), ("ELEVE_SORTI", "2", date(2026, 3, 15), "99")]
    r = await harness.run("rectorat", e2)  # and again: nothing new
    assert (r.published, r.unchanged) == (0, 2)


async def test_a_date_sortie_corrected_to_an_earlier_day_is_published(tmp_path, harness):
    await harness.run("rectorat", write(tmp_path / "1.xml", export([eleve("1", sortie="20/01/2026", motif="99")],
                                                                     date_export="25/01/2026")))
    r = await harness.run("rectorat", write(tmp_path / "2.xml", export([eleve("1", sortie="10/01/2026", motif="04")],
                                                                         date_export="15/02/2026")))
    assert r.published == 1 and by_type(harness.events[-1:]) == [("ELEVE_SORTI", "1", date(2026, 1, 10), "04")]
    # A correction to a later day changes nothing: the pupil had left by the earlier one.
    r = await harness.run("rectorat", write(tmp_path / "3.xml", export([eleve("1", sortie="30/01/2026", motif="05")],
                                                                         date_export="15/03/2026")))
    assert (r.published, r.unchanged) == (0, 1)


@pytest.mark.parametrize("entree, back", [("01/02/2026", date(2026, 2, 1)), ("02/09/2025", date(2026, 2, 15))])
async def test_a_return_seen_only_in_an_older_export_gives_the_events_of_the_date_order(tmp_path, entree, back):
    """e1 (15/01): left on 10/01; e2 (15/02): listed again (a return); e3 (15/03): gone.
    Ingested e1, e3, e2, the older e2 brings the return and the departure e3 implies."""
    from tests.connectors.helpers import Harness

    def files(tag):
        return (write(tmp_path / f"e1{tag}.xml", export([eleve("1", sortie="10/01/2026", motif="05")],
                                                         date_export="15/01/2026")),
                write(tmp_path / f"e2{tag}.xml", export([eleve("1", entree=entree)], date_export="15/02/2026")),
                write(tmp_path / f"e3{tag}.xml", export([], date_export="15/03/2026")))

    results = []
    for order in ((0, 1, 2), (0, 2, 1)):
        h = Harness()
        fs = files("".join(map(str, order)))
        for i in order:
            await h.run("rectorat", fs[i])
        results.append(by_type(h.events))
        again = await h.run("rectorat", fs[1])
        assert (again.published, again.unchanged) == (0, 1)
    assert results[0] == results[1] == [
        ("ELEVE_INSCRIT", "1", date(2025, 9, 2), None), ("ELEVE_INSCRIT", "1", back, None),
        ("ELEVE_SORTI", "1", date(2026, 1, 10), "05"), ("ELEVE_SORTI", "1", date(2026, 3, 15), "99")]


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


# --------------------------------------------------------------------------- order and re-ingests
#
# Exited pupils stay in the state (compact: exit date only), so that neither a re-ingest
# nor an older export ingested late re-enrols or re-exits them (inputs.md: "re-ingesting
# a file is harmless"). Three exports of one establishment, A < B < C:

A, B, C = "15/01/2026", "15/04/2026", "30/06/2026"


def _abc(tmp_path, *, gap: bool = False, tag: str = ""):
    """p1 stays; p2 leaves with a DATE_SORTIE in B (still listed, with it, in C); p3 arrives
    in B; p4 (listed in A and B) is missing from C; p5 is listed in A only, already with
    its DATE_SORTIE; p6 arrives and leaves between B and C. With `gap`, p8 is listed in A
    only, without DATE_SORTIE: it disappears in the A→B gap."""
    a = [eleve("1"), eleve("2", nom="DEUX"), eleve("4", nom="QUATRE"), eleve("5", nom="CINQ", sortie="10/01/2026", motif="09")]
    b = [eleve("1"), eleve("2", nom="DEUX", sortie="01/03/2026", motif="02"), eleve("3", nom="TROIS", entree="02/02/2026"),
         eleve("4", nom="QUATRE")]
    c = [eleve("1"), eleve("2", nom="DEUX", sortie="01/03/2026", motif="02"), eleve("3", nom="TROIS", entree="02/02/2026"),
         eleve("6", nom="SIX", entree="04/05/2026", sortie="01/06/2026", motif="05")]
    if gap:
        a.append(eleve("8", nom="HUIT"))
    return {name: write(tmp_path / f"{name}{tag}.xml", export(pupils, date_export=day))
            for name, pupils, day in (("A", a, A), ("B", b, B), ("C", c, C))}


def _ids(events):
    return {e["event_id"] for e in events}


def _summary(events):
    return sorted((e["event_type"], e["eleve_id"], e["event_date"], e.get("motif_sortie")) for e in events)


IN_ORDER = [
    ("ELEVE_INSCRIT", "1", date(2025, 9, 2), None),
    ("ELEVE_INSCRIT", "2", date(2025, 9, 2), None),
    ("ELEVE_INSCRIT", "3", date(2026, 2, 2), None),
    ("ELEVE_INSCRIT", "4", date(2025, 9, 2), None),
    ("ELEVE_INSCRIT", "5", date(2025, 9, 2), None),
    ("ELEVE_INSCRIT", "6", date(2026, 5, 4), None),
    ("ELEVE_SORTI", "2", date(2026, 3, 1), "02"),
    ("ELEVE_SORTI", "4", date(2026, 6, 30), "99"),
    ("ELEVE_SORTI", "5", date(2026, 1, 10), "09"),
    ("ELEVE_SORTI", "6", date(2026, 6, 1), "05"),
]


@pytest.mark.parametrize("on_disk", [False, True], ids=["memory", "scratch"])
async def test_reingesting_every_export_of_a_sequence_is_harmless(tmp_path, harness, monkeypatch, on_disk):
    """The bug of tests/cli/test_ingest.py::test_reingesting_an_older_export_is_harmless:
    p4 left by disappearance; re-ingesting A (which lists them) must not exit them again."""
    if on_disk:  # the diff's tables in the scratch RocksDB, as for a huge export
        monkeypatch.setattr("connectors.rectorat.connector.MEMORY_LIMIT", 1)
    f = _abc(tmp_path)
    for name in "ABC":
        await harness.run("rectorat", f[name])
    assert _summary(harness.events) == IN_ORDER
    state_before = harness.snapshots.snapshots[UAI_LP]
    assert state_before["as_of"] == "2026-06-30"
    assert state_before["pupils"] == {
        "1": [False, None, "DUPONT", "Élodie", "2008-02-14", "86194"],
        "2": [True, "2026-03-01"], "3": [False, None, "TROIS", "Élodie", "2008-02-14", "86194"],
        "4": [True, "2026-06-30"], "5": [True, "2026-01-10"], "6": [True, "2026-06-01"],
    }
    n = len(harness.events)
    for name in "ABCCBA":
        r = await harness.run("rectorat", f[name])
        assert (r.published, r.events, r.rejected, r.unchanged) == (0, 0, 0, r.read), name
        assert harness.snapshots.snapshots[UAI_LP] == state_before, name
    assert len(harness.events) == n
    # and the state is still right for the next export: p1 and p3 leave, nobody else
    r = await harness.run("rectorat", write(tmp_path / "D.xml", export([eleve("7", nom="SEPT", entree="01/09/2026")],
                                                                       date_export="15/09/2026")))
    assert _summary(harness.events[n:]) == [
        ("ELEVE_INSCRIT", "7", date(2026, 9, 1), None),
        ("ELEVE_SORTI", "1", date(2026, 9, 15), "99"),
        ("ELEVE_SORTI", "3", date(2026, 9, 15), "99"),
    ]


ORDERS = list(itertools.permutations("ABC"))


async def test_every_order_gives_the_same_events_and_state(tmp_path):
    """No pupil disappears in a gap between exports that arrive out of order: the six
    orders give the same event ids and the same state, and re-ingesting is harmless."""
    f = _abc(tmp_path)
    results = {}
    for order in ORDERS:
        h = Harness()
        for name in order:
            await h.run("rectorat", f[name])
        assert _summary(h.events) == IN_ORDER, order
        assert len(h.events) == len(_ids(h.events)), order  # no id published twice
        results[order] = (_ids(h.events), h.snapshots.snapshots[UAI_LP])
        for name in "ABC":
            r = await h.run("rectorat", f[name])
            assert (r.published, r.events) == (0, 0), (order, name)
        assert h.snapshots.snapshots[UAI_LP] == results[order][1]
        assert h.sink.watermarks["rectorat"] == date(2026, 6, 30)
    first = results[ORDERS[0]]
    assert all(r == first for r in results.values())
    assert first[1]["as_of"] == "2026-06-30"


async def test_disappearance_in_a_gap_is_dated_at_the_newest_export_seen(tmp_path):
    """The one limitation (connector.py, "Order"): p8, listed in A only without
    DATE_SORTIE, is missing from B and C. Its exit is dated at the as-of of the newest
    export ingested when it is derived: B when A and B both come before C, C otherwise
    (the state keeps the newest export, not every one). Every other event is the same,
    and whatever the date, p8 leaves once."""
    f = _abc(tmp_path, gap=True)
    for order in ORDERS:
        h = Harness()
        for name in order:
            await h.run("rectorat", f[name])
        expected = date(2026, 4, 15) if order[-1] == "C" else date(2026, 6, 30)
        p8 = [(t, d) for t, i, d, _ in _summary(h.events) if i == "8"]
        assert p8 == [("ELEVE_INSCRIT", date(2025, 9, 2)), ("ELEVE_SORTI", expected)], order
        assert [s for s in _summary(h.events) if s[1] != "8"] == IN_ORDER, order
        for name in "ABC":
            r = await h.run("rectorat", f[name])
            assert (r.published, r.events) == (0, 0), (order, name)


async def test_an_older_export_seen_late_adds_only_what_is_new(tmp_path, harness):
    """B and C first, then A for the first time: A's news are p5 (left with a DATE_SORTIE)
    and p9 (never seen, missing from C: gone by C's as-of); what B and C said about p1,
    p2 and p4 is not repeated, p2 (exited) is not re-enrolled, the state keeps C's as-of."""
    f = _abc(tmp_path)
    a = write(tmp_path / "A9.xml", export([eleve("1"), eleve("2", nom="DEUX"), eleve("4", nom="QUATRE"),
                                           eleve("5", nom="CINQ", sortie="10/01/2026", motif="09"),
                                           eleve("9", nom="NEUF", entree="05/01/2026")], date_export=A))
    await harness.run("rectorat", f["B"])
    await harness.run("rectorat", f["C"])
    before = harness.snapshots.snapshots[UAI_LP]
    n = len(harness.events)
    r = await harness.run("rectorat", a)
    assert (r.read, r.published, r.unchanged, r.events) == (5, 2, 3, 4)
    assert _summary(harness.events[n:]) == [
        ("ELEVE_INSCRIT", "5", date(2025, 9, 2), None),
        ("ELEVE_INSCRIT", "9", date(2026, 1, 5), None),
        ("ELEVE_SORTI", "5", date(2026, 1, 10), "09"),
        ("ELEVE_SORTI", "9", date(2026, 6, 30), "99"),
    ]
    after = harness.snapshots.snapshots[UAI_LP]
    assert after["as_of"] == "2026-06-30"  # never moved back
    assert after["pupils"] == before["pupils"] | {"5": [True, "2026-01-10"], "9": [True, "2026-06-30"]}
    assert harness.sink.watermarks["rectorat"] == date(2026, 6, 30)
    n = len(harness.events)
    for path in (a, f["B"], f["C"], a):
        r = await harness.run("rectorat", path)
        assert (r.published, r.events) == (0, 0), path.name
    assert len(harness.events) == n and harness.snapshots.snapshots[UAI_LP] == after


async def test_an_older_export_is_bounded_by_its_own_as_of(tmp_path, harness):
    """FUTURE_DATE is "after the file's as-of" (inputs.md): an export older than the
    snapshot checks its pupils' dates against its own DATE_EXPORT, not the newer one's.
    Only the exit it derives for a pupil the newer export lacks is dated at the newer
    as-of. The dead letter carries the file's own as-of, so a replay agrees."""
    from connectors.core.types import REPLAY_AS_OF

    f = _abc(tmp_path)
    await harness.run("rectorat", f["C"])
    n = len(harness.events)
    older = write(tmp_path / "A-late.xml", export([
        eleve("7", nom="SEPT", entree="05/01/2026", sortie="05/02/2026", motif="05"),  # exit after A's as-of
        eleve("8", nom="HUIT", entree="20/01/2026"),  # enrolled after A's as-of
        eleve("9", nom="NEUF", entree="05/01/2026"),  # unknown to C: gone by C's as-of
    ], date_export=A))
    r = await harness.run("rectorat", older)
    assert (r.read, r.published, r.rejected) == (3, 1, 2)
    assert [(d["position"], d["reason"], d["row"][REPLAY_AS_OF]) for d in harness.dlq] == [
        ("ELEVE[1]", "FUTURE_DATE", "2026-01-15"), ("ELEVE[2]", "FUTURE_DATE", "2026-01-15")]
    assert "2026-02-05" in harness.dlq[0]["detail"] and "2026-01-15" in harness.dlq[0]["detail"]
    assert _summary(harness.events[n:]) == [
        ("ELEVE_INSCRIT", "9", date(2026, 1, 5), None),
        ("ELEVE_SORTI", "9", date(2026, 6, 30), "99"),
    ]
    assert "7" not in state(harness) and "8" not in state(harness)  # rejected: not learnt


async def test_an_older_export_does_not_save_when_it_teaches_nothing(tmp_path, harness):
    f = _abc(tmp_path)
    for name in "ABC":
        await harness.run("rectorat", f[name])
    saves = harness.snapshots.saves
    await harness.run("rectorat", f["A"])
    await harness.run("rectorat", f["B"])
    assert harness.snapshots.saves == saves


async def test_return_to_school_only_from_a_newer_export(tmp_path, harness):
    """p1 leaves by disappearance in B; listed again without DATE_SORTIE:
    in the older A (re-ingest) or in another export of B's date → still exited, nothing;
    in the newer C → back at school, a new ELEVE_INSCRIT at its new DATE_ENTREE."""
    a = write(tmp_path / "a.xml", export([eleve("1"), eleve("2")], date_export=A))
    b = write(tmp_path / "b.xml", export([eleve("2")], date_export=B))
    b2 = write(tmp_path / "b2.xml", export([eleve("1"), eleve("2")], date_export=B))
    c = write(tmp_path / "c.xml", export([eleve("1", entree="02/05/2026"), eleve("2")], date_export=C))
    for path in (a, b):
        await harness.run("rectorat", path)
    assert _summary(harness.events)[-1] == ("ELEVE_SORTI", "1", date(2026, 4, 15), "99")
    n = len(harness.events)
    for path in (a, b2, b):
        r = await harness.run("rectorat", path)
        assert (r.published, r.events) == (0, 0), path.name
        assert state(harness)["1"] is True, path.name
    r = await harness.run("rectorat", c)
    assert _summary(harness.events[n:]) == [("ELEVE_INSCRIT", "1", date(2026, 5, 2), None)]
    assert state(harness) == {"1": False, "2": False}
    n = len(harness.events)
    for path in (c, a, b2, b, c):
        r = await harness.run("rectorat", path)
        assert (r.published, r.events) == (0, 0), path.name
    assert len(harness.events) == n and state(harness) == {"1": False, "2": False}


OLD = dict(naiss="14/02/2004", entree="01/09/2022")  # 18+ on every date below: no under-15 filtering


async def test_exited_pupils_are_forgotten_after_the_event_retention(tmp_path, harness):
    """An exit older than RETENTION (25 months, the events' retention) before a new export
    is forgotten; an export older than that horizon, ingested late, derives no exit by
    disappearance (the state may have forgotten the pupil's exit): re-ingesting it stays
    harmless."""
    from hub.kafka.topics import EVENT_RETENTION_MS

    from connectors.rectorat.state import RETENTION

    assert RETENTION.total_seconds() * 1000 == EVENT_RETENTION_MS
    old = write(tmp_path / "old.xml", export([eleve("1", **OLD), eleve("2", nom="DEUX", **OLD)],
                                             date_export="15/01/2023"))
    await harness.run("rectorat", old)
    await harness.run("rectorat", write(tmp_path / "gone.xml", export([eleve("1", **OLD)], date_export="15/03/2023")))
    assert state(harness) == {"1": False, "2": True}
    # 26 months later: 2's exit (15/03/2023) is beyond the horizon, forgotten; 1 still listed
    await harness.run("rectorat", write(tmp_path / "late.xml", export([eleve("1", **OLD)], date_export="15/05/2025")))
    assert state(harness) == {"1": False}
    # kept up to 775 days (25 × 31) after the exit, forgotten the day after
    await harness.run("rectorat", write(tmp_path / "x.xml", export([], date_export="16/05/2025")))
    assert harness.snapshots.snapshots[UAI_LP]["pupils"] == {"1": [True, "2025-05-16"]}
    await harness.run("rectorat", write(tmp_path / "y.xml", export([], date_export="30/06/2027")))
    assert harness.snapshots.snapshots[UAI_LP]["pupils"] == {"1": [True, "2025-05-16"]}
    await harness.run("rectorat", write(tmp_path / "z.xml", export([], date_export="01/07/2027")))
    assert harness.snapshots.snapshots[UAI_LP]["pupils"] == {}
    # the 2023 export again: 1 and 2 are forgotten, only its own facts (same ids)
    n = len(harness.events)
    r = await harness.run("rectorat", old)
    assert (r.published, r.unchanged, r.events) == (0, 2, 0) and len(harness.events) == n
    assert harness.snapshots.snapshots[UAI_LP] == {"uaj": UAI_LP, "as_of": "2027-07-01", "pupils": {}}


def test_state_forms_old_and_new():
    """The compact exited form, and the older one (identity, no exit date) still read."""
    from connectors.core.types import PupilState, Snapshot
    from connectors.rectorat.state import Scratch
    from hub.kafka.snapshots import _line

    present = PupilState(False, "123456789AB", "DUPONT", "Élodie", date(2008, 2, 14), "86194")
    gone = PupilState.gone(date(2026, 4, 15))
    assert gone.to_list() == [True, "2026-04-15"] and present.to_list()[0] is False
    assert PupilState.from_list(gone.to_list()) == gone and PupilState.from_list(present.to_list()) == present
    legacy = [True, None, "DUPONT", "Élodie", "2008-02-14", "86194"]  # format 2, before exit dates
    assert PupilState.from_list(legacy, date(2026, 3, 15)) == PupilState.gone(date(2026, 3, 15))
    doc = {"uaj": UAI_LP, "as_of": "2026-03-15", "pupils": {"1": legacy, "2": present.to_list()}}
    assert Snapshot.from_json(doc).pupils == {"1": PupilState.gone(date(2026, 3, 15)), "2": present}
    assert _line("7", gone) == b'["7",true,"2026-04-15"]\n'
    assert _line("8", present) == '["8",false,"123456789AB","DUPONT","Élodie","2008-02-14","86194"]\n'.encode()
    scratch = Scratch()
    try:
        table = scratch.pupils()
        table["1"], table["2"] = gone, present
        assert dict(table.items()) == {"1": gone, "2": present}
    finally:
        scratch.close()
