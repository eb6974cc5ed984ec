from __future__ import annotations

from datetime import date

import pytest

from hub.errors import InputError
from hub.identity import name_digest, name_key

from tests.connectors.helpers import SETTINGS, UAI_LP, counts, write_csv

HEADER = "uai;ine;nom;prenom;date_naissance;mois;demi_journees_non_justifiees;demi_journees_justifiees"


def row(uai=UAI_LP, ine="123456789AB", nom="DUPONT", prenom="Élodie", naiss="14/02/2009", mois="2026-02", nj="6", j="2"):
    return ";".join([uai, ine, nom, prenom, naiss, mois, nj, j])


async def test_clean_file(tmp_path, harness):
    p = write_csv(tmp_path / "abs.csv", HEADER, [row(), row(ine="", nom="D'Almeida", prenom="Jean-Pierre", mois="2026-01", nj="0", j="0")])
    r = await harness.run("absenteisme", p)
    assert counts(r) == {"read": 2, "published": 2, "unchanged": 0, "filtered": 0, "rejected": 0, "warnings": 0, "events": 2}
    assert r.as_of == date(2026, 2, 28)  # last day of the latest mois
    assert harness.sink.watermark_calls == [("absenteisme", date(2026, 2, 28))]
    topic, key, e = harness.sink.published[0]
    assert topic == "rectorat.absenteisme.v1" and key == "123456789AB"
    assert e["event_type"] == "ABSENTEISME_MENSUEL" and e["source"] == "absenteisme"
    assert e["source_ref"] == "abs.csv:2" and e["event_date"] == date(2026, 2, 28)
    assert e["person"] == {"ine": "123456789AB", "nom": "DUPONT", "prenom": "Élodie", "date_naissance": date(2009, 2, 14), "commune_residence": None}
    assert {k: e[k] for k in ("uai", "mois", "demi_journees_non_justifiees", "demi_journees_justifiees")} == {
        "uai": UAI_LP, "mois": "2026-02", "demi_journees_non_justifiees": 6, "demi_journees_justifiees": 2}
    assert e["event_id"].startswith("e-") and e["received_at"].tzinfo is not None
    # INE-less: key is the pseudonymous digest of the name key, never the name
    _, key2, e2 = harness.sink.published[1]
    assert key2 == name_digest(name_key("D'Almeida", "Jean-Pierre", date(2009, 2, 14)), SETTINGS.pseudonym_secret)
    assert e2["person"]["ine"] is None and e2["event_date"] == date(2026, 1, 31)


async def test_rerun_and_renamed_file_unchanged(tmp_path, harness):
    rows = [row(), row(mois="2026-01")]
    p = write_csv(tmp_path / "a.csv", HEADER, rows)
    await harness.run("absenteisme", p)
    again = await harness.run("absenteisme", p)
    assert counts(again) == {"read": 2, "published": 0, "unchanged": 2, "filtered": 0, "rejected": 0, "warnings": 0, "events": 0}
    renamed = write_csv(tmp_path / "renamed.csv", HEADER.replace("uai;ine", "ine;uai"), [";".join(r.split(";")[1::-1] + r.split(";")[2:]) for r in rows])
    r3 = await harness.run("absenteisme", renamed)
    assert r3.unchanged == 2 and len(harness.events) == 2


async def test_corrected_count_is_a_new_fact(tmp_path, harness):
    await harness.run("absenteisme", write_csv(tmp_path / "a.csv", HEADER, [row(nj="6")]))
    r = await harness.run("absenteisme", write_csv(tmp_path / "b.csv", HEADER, [row(nj="8")]))
    assert r.published == 1 and len({e["event_id"] for e in harness.events}) == 2


@pytest.mark.parametrize(
    "line, reason",
    [
        (row(uai="0860012A"), "BAD_UAI"),
        (row(uai="0860012V"), "BAD_UAI"),  # the letter before W: the table skips I, O and Q
        (row(uai=""), "MISSING_FIELD"),
        (row(naiss="31/02/2009"), "BAD_DATE"),
        (row(naiss="2009/02/14"), "BAD_DATE"),
        (row(nom=""), "MISSING_FIELD"),
        (row(prenom=" "), "MISSING_FIELD"),
        (row(nom="-"), "BAD_VALUE"),  # nothing left of the name key once normalised (rules.md §1)
        (row(prenom="'"), "BAD_VALUE"),
        (row(nom="\u200b"), "BAD_VALUE"),  # a zero-width space
        (row(nom="\uff9e"), "BAD_VALUE"),  # a letter as written, a combining mark once normalised: nothing left
        (row(mois="2026-13"), "BAD_VALUE"),
        (row(mois="2026-00"), "BAD_VALUE"),
        # Years outside 1900–2100, as for dates: 9999-12 became the file's default as-of,
        # then a watermark that never moves back (found by a mutation audit).
        (row(mois="9999-12"), "BAD_VALUE"),
        (row(mois="1899-12"), "BAD_VALUE"),
        (row(mois="02/2026"), "BAD_VALUE"),
        (row(mois=""), "MISSING_FIELD"),
        (row(nj="-1"), "BAD_VALUE"),
        (row(j="2.5"), "BAD_VALUE"),
        (row(nj=""), "MISSING_FIELD"),
        (row(j="abc"), "BAD_VALUE"),
        (row(nj="2147483648"), "BAD_VALUE"),  # beyond the schema's 32-bit Avro int
        (row(j="99999999999"), "BAD_VALUE"),
        (row() + ";9", "BAD_VALUE"),  # more fields than the header
        (row().rsplit(";", 1)[0], "MISSING_FIELD"),  # last field left off: read as empty
    ],
)
async def test_rejections(tmp_path, harness, line, reason):
    p = write_csv(tmp_path / "r.csv", HEADER, [row(ine="", nom="OK"), line])
    r = await harness.run("absenteisme", p)
    assert (r.read, r.published, r.rejected) == (2, 1, 1)
    (topic, dl), = harness.sink.dead_letters
    assert topic == "rectorat.absenteisme.v1.dlq"
    assert dl["reason"] == reason and dl["file"] == "r.csv" and dl["position"] == "line 3" and dl["raw"] == line
    assert set(dl) == {"source", "file", "position", "reason", "detail", "raw", "row", "received_at"}
    assert dl["source"] == "absenteisme" and dl["detail"]


async def test_future_date_with_as_of(tmp_path, harness):
    p = write_csv(tmp_path / "f.csv", HEADER, [row(mois="2026-01"), row(mois="2026-03", ine="")])
    r = await harness.run("absenteisme", p, as_of=date(2026, 2, 28))
    assert (r.published, r.rejected, r.as_of) == (1, 1, date(2026, 2, 28))
    assert harness.reasons() == ["FUTURE_DATE"]


async def test_invalid_ine_is_a_warning(tmp_path, harness):
    r = await harness.run("absenteisme", write_csv(tmp_path / "i.csv", HEADER, [row(ine="12345"), row(ine=" 123 456 789 ab", mois="2026-01")]))
    assert (r.published, r.warnings) == (2, 1)
    (_, k1, e1), (_, k2, e2) = harness.sink.published
    assert e1["person"]["ine"] is None and k1.startswith("n-")
    assert e2["person"]["ine"] == "123456789AB" and k2 == "123456789AB"


@pytest.mark.parametrize("ine", ["12345678901", "123456789A1", "2023A123456", "0123456789"])
async def test_an_ine_of_no_format_is_dropped_with_a_warning(tmp_path, harness, ine):
    """inputs.md's three formats all end with a letter: eleven digits, or a letter
    where a digit belongs, is no INE (record kept, INE dropped, one warning)."""
    r = await harness.run("absenteisme", write_csv(tmp_path / "i.csv", HEADER, [row(ine=ine)]))
    assert (r.published, r.warnings) == (1, 1)
    assert harness.events[0]["person"]["ine"] is None


async def test_under_15_filtered(tmp_path, harness):
    # born 01/03/2011: 14 on 28/02/2026, 15 on 31/03/2026
    p = write_csv(tmp_path / "u.csv", HEADER, [row(naiss="01/03/2011", mois="2026-02"), row(naiss="01/03/2011", mois="2026-03")])
    r = await harness.run("absenteisme", p)
    assert (r.filtered, r.published) == (1, 1)
    assert harness.events[0]["mois"] == "2026-03"


async def test_a_refused_row_about_someone_under_15_is_filtered_not_dead_lettered(tmp_path, harness):
    """rules.md §2: nothing is published about a person under 15, a dead letter (which
    carries the raw row) included. Under 15 is known from a valid birth date and the
    row's month, or — the month unreadable — the as-of; else the row stays rejected."""
    young = dict(naiss="01/03/2011")  # 14 until 28/02/2026
    rows = [
        row(uai="0860012X", **young),  # BAD_UAI, 14 at the end of 2026-02 → filtered
        row(nj="-4", **young),  # BAD_VALUE, 14 → filtered
        row(nj="-4", mois="2026-03", **young),  # BAD_VALUE at 15 → rejected
        row(mois="2026-13", **young),  # no month: nothing to compare with → rejected
        row(nj="-4", naiss="31/02/2011"),  # no birth date → rejected
        row(nj="-4", naiss="14/02/2007"),  # an adult → rejected
    ]
    r = await harness.run("absenteisme", write_csv(tmp_path / "q.csv", HEADER, rows))
    assert (r.read, r.filtered, r.rejected, r.published) == (6, 2, 4, 0)
    assert [d["position"] for d in harness.dlq] == ["line 4", "line 5", "line 6", "line 7"]
    # with an as-of, an unreadable month is at most the as-of: 14 then → filtered
    r = await harness.run("absenteisme", write_csv(tmp_path / "q2.csv", HEADER, [row(mois="2026-13", **young)]),
                          as_of=date(2026, 2, 28))
    assert (r.filtered, r.rejected) == (1, 0)
    r = await harness.run("absenteisme", write_csv(tmp_path / "q3.csv", HEADER, [row(mois="2026-13", **young)]),
                          as_of=date(2026, 3, 1))
    assert (r.filtered, r.rejected) == (0, 1)


async def test_missing_column_publishes_nothing(tmp_path, harness):
    p = write_csv(tmp_path / "m.csv", HEADER.replace(";mois", ""), ["x"])
    with pytest.raises(InputError, match="mois"):
        await harness.run("absenteisme", p)
    assert harness.sink.published == [] and harness.sink.watermark_calls == []


async def test_ine_column_optional(tmp_path, harness):
    header = HEADER.replace("ine;", "")
    r = await harness.run("absenteisme", write_csv(tmp_path / "n.csv", header, [row().replace(";123456789AB", "")]))
    assert r.published == 1 and harness.events[0]["person"]["ine"] is None


async def test_default_as_of_counts_rejected_months(tmp_path, harness):
    """inputs.md: the default as-of is the last day of the latest `mois` in the file, a
    row rejected for a count still having a valid month; a bad `mois` cannot count."""
    p = write_csv(tmp_path / "d.csv", HEADER, [row(mois="2026-01"), row(mois="2026-03", nj="-1"), row(mois="2026-13")])
    r = await harness.run("absenteisme", p)
    assert (r.published, r.rejected, r.as_of) == (1, 2, date(2026, 3, 31))
    assert harness.sink.watermark_calls == [("absenteisme", date(2026, 3, 31))]
