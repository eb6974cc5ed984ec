from __future__ import annotations

import json
from datetime import date

import pytest

from connectors import check_record, get_connector, make_context
from connectors.core.fields import REPEATED
from connectors.core.types import Accepted, Filtered, Rejected
from tests.connectors.helpers import CTI_CODE, DIRECTORY, SETTINGS, UAI_LP, counts


def report(**over):
    doc = {"cti": CTI_CODE, "uai": UAI_LP, "type": "REPERAGE", "date": "2026-02-03", "reference": "fiche-2026-0042",
           "motif": "absences répétées, démotivation",
           "jeune": {"ine": "123456789AB", "nom": "DUPONT", "prenom": "Élodie", "date_naissance": "2009-02-14", "commune_residence": "86194"}}
    doc.update(over)
    return doc


def write(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    return path


async def test_clean_file(tmp_path, harness):
    p = write(tmp_path / "cti.jsonl", [report(), "", report(type="suivi", reference="fiche-2026-0043", date="05/02/2026", motif=None)])
    r = await harness.run("cti", p)
    assert counts(r) == {"read": 2, "published": 2, "unchanged": 0, "filtered": 0, "rejected": 0, "warnings": 0, "events": 2}
    assert r.as_of == date(2026, 2, 5)
    e = harness.events[0]
    assert e["event_type"] == "SIGNALEMENT_CTI" and e["source"] == "cti" and e["source_ref"] == "fiche-2026-0042"
    assert {k: e[k] for k in ("cti", "uai", "type", "reference", "motif")} == {
        "cti": CTI_CODE, "uai": UAI_LP, "type": "REPERAGE", "reference": "fiche-2026-0042", "motif": "absences répétées, démotivation"}
    assert e["person"]["date_naissance"] == date(2009, 2, 14) and e["person"]["commune_residence"] == "86194"
    assert harness.events[1]["type"] == "SUIVI" and harness.events[1]["motif"] is None


async def test_reference_is_the_idempotence_key(tmp_path, harness):
    await harness.run("cti", write(tmp_path / "a.jsonl", [report()]))
    r = await harness.run("cti", write(tmp_path / "b.jsonl", [report(motif="autre texte")]))
    assert r.unchanged == 1 and len(harness.events) == 1


async def test_bad_json_does_not_stop_the_file(tmp_path, harness):
    p = write(tmp_path / "j.jsonl", ['{"cti": ', report(), "[1, 2]", "plain text"])
    with p.open("ab") as f:
        f.write(b'{"cti": "\xff"}\n')
    r = await harness.run("cti", p)
    assert (r.read, r.published, r.rejected) == (5, 1, 4)
    assert harness.reasons() == ["BAD_JSON"] * 4
    assert harness.dlq[0]["position"] == "line 1" and harness.dlq[0]["raw"] == '{"cti": '
    # The column is the line's; json's own "line 2" (past the line end) misled.
    assert harness.dlq[0]["detail"] == "JSON invalide : Expecting value (colonne 9)"
    # Not UTF-8: its bytes stay visible, escaped, and the text is still no JSON (a replay
    # refuses it again instead of publishing a name garbled by replacement characters).
    assert harness.dlq[-1]["raw"] == '{"cti": "\\xff"}'


async def test_a_file_of_one_cut_report_is_one_bad_json_record(tmp_path, harness):
    """A CTI file of a single report is common: cut or mistyped, it is a record rejected
    BAD_JSON (inputs.md: "without stopping the file"), not a file error."""
    p = write(tmp_path / "one.jsonl", [json.dumps(report())[:-1]])
    r = await harness.run("cti", p, as_of=date(2026, 2, 5))
    assert (r.read, r.published, r.rejected) == (1, 0, 1)
    assert harness.reasons() == ["BAD_JSON"] and harness.dlq[0]["raw"] == json.dumps(report())[:-1]


@pytest.mark.parametrize("padding", [0, 3500], ids=["in process", "parse workers (file of 1 MiB and more)"])
async def test_json_no_system_can_carry_is_one_bad_json_record(tmp_path, harness, padding):
    """NaN, a lone surrogate (no UTF-8 encoding: the Avro encoder fails on it) and absurd
    nesting are each one BAD_JSON record; the lines after them are read and published."""
    bad = [
        json.dumps(report(reference="x")).replace('"x"', "NaN"),
        json.dumps(report(reference="sur", motif="x")).replace('"motif": "x"', '"motif": "bad \\ud800 char"'),
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' * 50_000 + "1" + "}" * 50_000,
    ]
    good = [report(reference=f"fiche-{i}") for i in range(padding)]
    p = write(tmp_path / "j.jsonl", [report(reference="avant"), *bad, report(reference="apres"), *good])
    r = await harness.run("cti", p)
    assert (r.read, r.published, r.rejected) == (6 + padding, 2 + padding, 4)
    assert harness.reasons() == ["BAD_JSON"] * 4
    assert [d["position"] for d in harness.dlq] == ["line 2", "line 3", "line 4", "line 5"]
    assert [e["reference"] for e in harness.events[:2]] == ["avant", "apres"]


@pytest.mark.parametrize("content", [
    b"cti;uai;type\nCTI-86;0860012W;REPERAGE\n",  # a CSV
    b"\x7fELF\x02\x01\x01\x00\xff\xfe\n\x00\x00\x03\x00",  # a binary
    b'[1, 2]\n"text"\n',  # JSON values, none an object
    b'[{"cti": "CTI-E-86-01"}]\n',  # a JSON document, not JSON Lines
    b"<html><body>502 Bad Gateway</body></html>\n",
])
async def test_not_json_lines_is_a_file_error(tmp_path, harness, content):
    """ "Not the declared format" (inputs.md) refuses the whole file: exit 2, nothing
    published, not even a dead letter."""
    from hub.errors import InputError

    p = tmp_path / "not.jsonl"
    p.write_bytes(content)
    with pytest.raises(InputError, match="pas un fichier JSON Lines"):
        await harness.run("cti", p)
    assert harness.events == [] and harness.dlq == []


async def test_empty_file_is_no_record(tmp_path, harness):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"\n  \n")
    r = await harness.run("cti", p, as_of=date(2026, 2, 5))
    assert counts(r)["read"] == 0 and harness.dlq == []


@pytest.mark.parametrize(
    "over, reason",
    [
        ({"cti": "CTI-INCONNU"}, "BAD_VALUE"),
        ({"cti": ""}, "MISSING_FIELD"),
        ({"uai": "123"}, "BAD_UAI"),
        ({"type": "ALERTE"}, "BAD_VALUE"),
        ({"date": "03-02-2026"}, "BAD_DATE"),
        ({"reference": ""}, "MISSING_FIELD"),
        ({"jeune": None}, "MISSING_FIELD"),
        ({"jeune": ""}, "MISSING_FIELD"),
        ({"jeune": "DUPONT"}, "BAD_VALUE"),
        ({"jeune": {"nom": "DUPONT", "prenom": "E", "date_naissance": "2009-02-14", "commune_residence": "x"}}, "BAD_COMMUNE"),
        ({"jeune": {"nom": "DUPONT", "date_naissance": "2009-02-14"}}, "MISSING_FIELD"),
        ({"uai": {"nested": 1}}, "BAD_VALUE"),
        # The young person's name comes from `jeune` only, not from a dotted top-level key.
        ({"jeune": {"prenom": "E", "date_naissance": "2009-02-14"}, "jeune.nom": "DUPONT"}, "MISSING_FIELD"),
        ({"date": "2026-02-03", "reference": "r" * 2001}, "BAD_VALUE"),  # longer than any field
    ],
)
async def test_rejections(tmp_path, harness, over, reason):
    r = await harness.run("cti", write(tmp_path / "r.jsonl", [report(reference="ok"), report(**over)]))
    assert (r.published, r.rejected) == (1, 1)
    assert harness.reasons() == [reason]


async def test_a_field_of_2000_characters_and_a_lower_case_cti_code(tmp_path, harness):
    """2,000 characters is the most a field may hold, not too many; the CTI code is found
    in the directory as written, then upper-cased."""
    r = await harness.run("cti", write(tmp_path / "l.jsonl", [report(reference="r" * 2000, cti=CTI_CODE.lower())]))
    assert (r.published, r.rejected) == (1, 0)
    assert harness.events[0]["reference"] == "r" * 2000 and harness.events[0]["cti"] == CTI_CODE


async def test_a_refused_report_about_someone_under_15_is_filtered(tmp_path, harness):
    """README: a record refused for a field, about someone its valid dates show under 15
    at its event date, is filtered — a dead letter would carry the raw report."""
    young = {"nom": "A", "prenom": "B", "date_naissance": "2012-01-01"}
    p = write(tmp_path / "y.jsonl", [report(uai="0860012X", jeune=young), report(reference="r2", uai="0860012X")])
    r = await harness.run("cti", p)
    assert (r.filtered, r.rejected, r.published) == (1, 1, 0)
    assert [d["position"] for d in harness.dlq] == ["line 2"]


async def test_a_field_given_twice_is_a_rejected_record(tmp_path, harness):
    """Names compare case-insensitively: `cti` and `CTI` in one report is ambiguous (and
    let a token bound to one code publish for another over HTTP); as exact duplicate keys
    (BAD_JSON), it costs that line only."""
    twice = json.dumps(report(reference="r2"))
    lines = [report(), twice.replace('"cti": ', '"CTI": "CTI-E-17-01", "cti": '),
             twice.replace('"prenom": ', '"Prenom ": "X", "prenom": '), twice.replace('"uai": ', '"uai": "0860012W", "uai": ')]
    r = await harness.run("cti", write(tmp_path / "t.jsonl", lines))
    assert (r.read, r.published, r.rejected) == (4, 1, 3)
    assert [(d["reason"], d["position"]) for d in harness.dlq] == [("BAD_VALUE", "line 2"), ("BAD_VALUE", "line 3"),
                                                                    ("BAD_JSON", "line 4")]
    ctx = make_context(get_connector("cti"), directory=DIRECTORY, settings=SETTINGS, as_of=date(2026, 3, 1))
    bad = check_record(get_connector("cti"), {**report(), "CTI": CTI_CODE}, ctx)  # even with the same value
    assert isinstance(bad, Rejected)
    assert [(x.reason, x.field, x.detail) for x in bad.rejections] == [("BAD_VALUE", "cti", REPEATED)]


async def test_future_date(tmp_path, harness):
    r = await harness.run("cti", write(tmp_path / "f.jsonl", [report(date="2026-03-01")]), as_of=date(2026, 2, 28))
    assert harness.reasons() == ["FUTURE_DATE"] and r.rejected == 1


def test_check_record_for_http():
    conn = get_connector("cti")
    ctx = make_context(conn, directory=DIRECTORY, settings=SETTINGS, as_of=date(2026, 3, 1))
    ok = check_record(conn, report(), ctx)
    assert isinstance(ok, Accepted) and ok.events[0][0] == "123456789AB" and len(ok.event_ids) == 1
    assert check_record(conn, report(), ctx).event_ids == ok.event_ids  # same record → same id
    bad = check_record(conn, report(cti="nope", type="x"), ctx)
    assert isinstance(bad, Rejected) and [r.reason for r in bad.rejections] == ["BAD_VALUE", "BAD_VALUE"]
    late = check_record(conn, report(date="2026-03-02"), ctx)
    assert isinstance(late, Rejected) and late.reason == "FUTURE_DATE"
    young = check_record(conn, report(jeune={"nom": "A", "prenom": "B", "date_naissance": "2012-01-01"}), ctx)
    assert isinstance(young, Filtered)


async def test_default_as_of_counts_rejected_reports(tmp_path, harness):
    """The default as-of is the latest `date`, rejected reports included when their date
    is valid; a report that is not JSON, or whose date is bad, cannot count."""
    p = write(tmp_path / "d.jsonl", [report(), report(reference="r2", cti="CTI-INCONNU", date="2026-02-20"),
                                     report(reference="r3", date="2026-02-30"), '{"date": "2026-03-30"'])
    r = await harness.run("cti", p)
    assert (r.published, r.rejected, r.as_of) == (1, 3, date(2026, 2, 20))
    assert harness.sink.watermark_calls == [("cti", date(2026, 2, 20))]
