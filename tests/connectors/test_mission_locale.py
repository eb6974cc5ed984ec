from __future__ import annotations

from datetime import date

import pytest

from hub.errors import InputError

from connectors import get_connector, make_context
from connectors.core.types import Mapped, Rejected
from tests.connectors.helpers import DIRECTORY, ML, SETTINGS, counts, write_csv

HEADER = "code_ml;identifiant_milo;ine;nom;prenom;date_naissance;commune_residence;evenement;date_evenement;dispositif;situation"


def row(code=ML, milo="M0042", ine="", nom="MARTIN", prenom="Léa", naiss="2008-05-10", commune="86194", ev="PREMIER_ACCUEIL", d="03/02/2026", disp="", sit=""):
    return ";".join([code, milo, ine, nom, prenom, naiss, commune, ev, d, disp, sit])


async def test_clean_file(tmp_path, harness):
    rows = [
        row(),
        row(ev="entree_accompagnement", d="10/02/2026", disp="cej"),
        row(ev="SITUATION", d="2026-02-20", sit="EMPLOI", commune=""),
        row(ev="SORTIE_ACCOMPAGNEMENT", d="25/02/2026", disp="CEJ"),
    ]
    r = await harness.run("mission-locale", write_csv(tmp_path / "milo.csv", HEADER, rows))
    assert counts(r) == {"read": 4, "published": 4, "unchanged": 0, "filtered": 0, "rejected": 0, "warnings": 0, "events": 4}
    assert r.as_of == date(2026, 2, 25)
    e = harness.events[1]
    assert e["event_type"] == "JEUNE_ML" and e["source"] == "mission-locale"
    assert {k: e[k] for k in ("code_ml", "identifiant_milo", "evenement", "dispositif", "situation")} == {
        "code_ml": ML, "identifiant_milo": "M0042", "evenement": "ENTREE_ACCOMPAGNEMENT", "dispositif": "CEJ", "situation": None}
    assert e["person"]["commune_residence"] == "86194" and harness.events[2]["person"]["commune_residence"] is None
    assert harness.events[2]["situation"] == "EMPLOI"
    assert {t for t, _, _ in harness.sink.published} == {"missions-locales.jeunes.v1"}
    again = await harness.run("mission-locale", write_csv(tmp_path / "copy.csv", HEADER, rows))
    assert (again.unchanged, again.events) == (4, 0)


@pytest.mark.parametrize(
    "line, reason",
    [
        (row(code="ML-XX-INCONNUE"), "BAD_VALUE"),
        (row(code=""), "MISSING_FIELD"),
        (row(milo=""), "MISSING_FIELD"),
        (row(ev="ARRIVEE"), "BAD_VALUE"),
        (row(ev=""), "MISSING_FIELD"),
        (row(ev="ENTREE_ACCOMPAGNEMENT"), "MISSING_FIELD"),
        (row(ev="SITUATION"), "MISSING_FIELD"),
        (row(disp="GARANTIE"), "BAD_VALUE"),
        (row(sit="CHOMAGE"), "BAD_VALUE"),
        (row(commune="8619"), "BAD_COMMUNE"),
        (row(d="2026-02-30"), "BAD_DATE"),
        (row(naiss=""), "MISSING_FIELD"),
    ],
)
async def test_rejections(tmp_path, harness, line, reason):
    r = await harness.run("mission-locale", write_csv(tmp_path / "r.csv", HEADER, [row(milo="OK"), line]))
    assert (r.read, r.published, r.rejected) == (2, 1, 1)
    assert harness.reasons() == [reason]


async def test_code_ml_in_lower_case_and_padded_fields(tmp_path, harness):
    """`code_ml` is compared as written, then upper-cased; surrounding spaces are
    trimmed (hub.validation), so a padded copy of a row is the same fact."""
    await harness.run("mission-locale", write_csv(tmp_path / "a.csv", HEADER, [row()]))
    r = await harness.run("mission-locale", write_csv(tmp_path / "b.csv", HEADER, [
        row(code=ML.lower(), milo=" M0042 ", nom=" MARTIN "), row(milo=" M0043 ", nom=" MARTIN ")]))
    assert (r.rejected, r.unchanged, r.published) == (0, 1, 1)
    e = harness.events[-1]
    assert (e["code_ml"], e["identifiant_milo"], e["person"]["nom"]) == (ML, "M0043", "MARTIN")


async def test_future_date(tmp_path, harness):
    r = await harness.run("mission-locale", write_csv(tmp_path / "f.csv", HEADER, [row(d="16/03/2026")]), as_of=date(2026, 3, 15))
    assert r.rejected == 1 and harness.reasons() == ["FUTURE_DATE"] and r.as_of == date(2026, 3, 15)


async def test_needs_directory(tmp_path, harness):
    with pytest.raises(InputError, match="annuaire"):
        await harness.run("mission-locale", write_csv(tmp_path / "d.csv", HEADER, [row()]), directory=None)


async def test_optional_columns_absent(tmp_path, harness):
    header = "code_ml;identifiant_milo;nom;prenom;date_naissance;evenement;date_evenement;dispositif;situation"
    r = await harness.run("mission-locale", write_csv(tmp_path / "o.csv", header, [f"{ML};M1;NOM;P;2008-01-01;PREMIER_ACCUEIL;2026-01-02;;"]))
    assert r.published == 1


def test_validate_single_record_lists_every_reason():
    ctx = make_context(get_connector("mission-locale"), directory=DIRECTORY, settings=SETTINGS)
    out = get_connector("mission-locale").validate({"CODE_ML": "nope", "evenement": "SITUATION", "nom": "X"}, ctx)
    assert isinstance(out, Rejected)
    assert {(r.field, r.reason) for r in out.rejections} == {
        ("code_ml", "BAD_VALUE"), ("identifiant_milo", "MISSING_FIELD"), ("prenom", "MISSING_FIELD"),
        ("date_naissance", "MISSING_FIELD"), ("date_evenement", "MISSING_FIELD"), ("situation", "MISSING_FIELD")}
    ok = get_connector("mission-locale").validate(
        {"code_ml": ML, "identifiant_milo": "7", "nom": "X", "prenom": "Y", "date_naissance": "2008-01-01",
         "evenement": "PREMIER_ACCUEIL", "date_evenement": "2026-01-02"}, ctx, ref="api:test")
    assert isinstance(ok, Mapped) and ok.events[0]["source_ref"] == "api:test"


def test_a_row_object_naming_a_column_twice_is_rejected():
    """Over HTTP a row is an object keyed by column name, compared case-insensitively: a
    column given twice is refused, as in a CSV header (a token bound to one Mission
    locale checked the first `code_ml` and published the last)."""
    ctx = make_context(get_connector("mission-locale"), directory=DIRECTORY, settings=SETTINGS)
    record = {"code_ml": ML, "identifiant_milo": "7", "nom": "X", "prenom": "Y", "date_naissance": "2008-01-01",
              "evenement": "PREMIER_ACCUEIL", "date_evenement": "2026-01-02"}
    out = get_connector("mission-locale").validate({**record, " CODE_ML": ML}, ctx)  # even with the same value
    assert isinstance(out, Rejected)
    assert [(r.field, r.reason) for r in out.rejections] == [("code_ml", "BAD_VALUE")]
    assert isinstance(get_connector("mission-locale").validate({**record, "NOM": "X"}, ctx), Rejected)
    assert isinstance(get_connector("mission-locale").validate(record, ctx), Mapped)


def test_a_json_boolean_is_no_field_value():
    """Over HTTP a row's values may be JSON; `true` read as text was published "True"."""
    ctx = make_context(get_connector("mission-locale"), directory=DIRECTORY, settings=SETTINGS)
    record = {"code_ml": ML, "identifiant_milo": True, "nom": "X", "prenom": "Y", "date_naissance": "2008-01-01",
              "evenement": "PREMIER_ACCUEIL", "date_evenement": "2026-01-02"}
    out = get_connector("mission-locale").validate(record, ctx)
    assert isinstance(out, Rejected) and [(r.field, r.reason) for r in out.rejections] == [("identifiant_milo", "BAD_VALUE")]
    ok = get_connector("mission-locale").validate({**record, "identifiant_milo": 12345}, ctx)  # a number reads as text
    assert isinstance(ok, Mapped)


async def test_default_as_of_counts_rejected_rows(tmp_path, harness):
    """The default as-of is the latest date_evenement, rejected rows included (an unknown
    code_ml does not make the date less valid); an unparseable date cannot count."""
    rows = [row(d="03/02/2026"), row(code="ML-XX-INCONNUE", milo="M2", d="20/02/2026"), row(milo="M3", d="2026-02-30")]
    r = await harness.run("mission-locale", write_csv(tmp_path / "d.csv", HEADER, rows))
    assert (r.published, r.rejected, r.as_of) == (1, 2, date(2026, 2, 20))
    assert harness.sink.watermark_calls == [("mission-locale", date(2026, 2, 20))]
