from __future__ import annotations

from datetime import date

import pytest

from tests.connectors.helpers import SIRET, UAI_CFA, counts, write_csv

HEADER = "numero_contrat;uai_cfa;siret_employeur;ine;nom;prenom;date_naissance;commune_residence;rqth;evenement;date_evenement;date_debut_contrat;cause_rupture"


def row(num="DECA-001", uai=UAI_CFA, siret=SIRET, ine="2023A12345B", nom="DUPONT", prenom="Élodie", naiss="14/02/2007", commune="86194", rqth="", ev="CONTRAT_SIGNE", d="01/09/2025", debut="01/09/2025", cause=""):
    return ";".join([num, uai, siret, ine, nom, prenom, naiss, commune, rqth, ev, d, debut, cause])


async def test_clean_file(tmp_path, harness):
    rows = [
        row(rqth="o"),
        row(ev="contrat_rompu", d="10/01/2026", siret="", cause="accord_commun"),
        row(num="", siret="", ev="SORTIE_CFA", d="20/01/2026", debut="", rqth="N"),
    ]
    r = await harness.run("cfa", write_csv(tmp_path / "cfa.csv", HEADER, rows))
    assert counts(r) == {"read": 3, "published": 3, "unchanged": 0, "filtered": 0, "rejected": 0, "warnings": 0, "events": 3}
    assert r.as_of == date(2026, 1, 20)
    signe, rompu, sortie = harness.events
    env = {"event_id", "event_type", "source", "source_ref", "event_date", "received_at", "person"}
    assert set(signe) - env == {"numero_contrat", "uai_cfa", "siret_employeur", "rqth", "date_debut_contrat"}
    assert set(rompu) - env == {"numero_contrat", "uai_cfa", "siret_employeur", "rqth", "date_debut_contrat", "cause_rupture"}
    assert set(sortie) - env == {"numero_contrat", "uai_cfa", "siret_employeur", "rqth"}
    assert signe["event_type"] == "CONTRAT_SIGNE" and signe["rqth"] is True and signe["siret_employeur"] == SIRET
    assert signe["date_debut_contrat"] == date(2025, 9, 1)
    assert rompu["event_type"] == "CONTRAT_ROMPU" and rompu["cause_rupture"] == "ACCORD_COMMUN" and rompu["siret_employeur"] is None
    assert rompu["rqth"] is False and rompu["event_date"] == date(2026, 1, 10)
    assert sortie["event_type"] == "SORTIE_CFA" and sortie["numero_contrat"] is None
    assert {t for t, _, _ in harness.sink.published} == {"cfa.contrats.v1"}
    assert harness.sink.published[0][1] == "2023A12345B"


async def test_same_rupture_with_corrected_cause_is_same_fact(tmp_path, harness):
    await harness.run("cfa", write_csv(tmp_path / "a.csv", HEADER, [row(ev="CONTRAT_ROMPU", d="10/01/2026", cause="")]))
    r = await harness.run("cfa", write_csv(tmp_path / "b.csv", HEADER, [row(ev="CONTRAT_ROMPU", d="10/01/2026", cause="LICENCIEMENT")]))
    assert r.unchanged == 1


@pytest.mark.parametrize(
    "line, reason",
    [
        (row(num=""), "MISSING_FIELD"),
        (row(num="", ev="CONTRAT_ROMPU"), "MISSING_FIELD"),
        (row(siret=""), "MISSING_FIELD"),
        (row(siret="73282932000075"), "BAD_SIRET"),
        (row(siret="1234"), "BAD_SIRET"),
        (row(ev="CONTRAT_ROMPU", siret="73282932000075"), "BAD_SIRET"),  # a SIRET is checked whenever given
        (row(num="", ev="SORTIE_CFA", debut="", siret="73282932000075"), "BAD_SIRET"),
        (row(uai=""), "MISSING_FIELD"),
        (row(uai="0861234A"), "BAD_UAI"),
        (row(ev="CONTRAT_ROMPU", debut=""), "MISSING_FIELD"),
        (row(ev="CONTRAT_ROMPU", debut="1er sept"), "BAD_DATE"),
        (row(debut="1er sept"), "BAD_DATE"),  # optional for CONTRAT_SIGNE, checked when given
        (row(ev="CONTRAT_ROMPU", cause="FAUTE"), "BAD_VALUE"),
        (row(rqth="OUI"), "BAD_VALUE"),
        (row(ev="RUPTURE"), "BAD_VALUE"),
        (row(commune="2C004"), "BAD_COMMUNE"),
        (row(d=""), "MISSING_FIELD"),
    ],
)
async def test_rejections(tmp_path, harness, line, reason):
    r = await harness.run("cfa", write_csv(tmp_path / "r.csv", HEADER, [row(num="OK-1"), line]))
    assert (r.read, r.published, r.rejected) == (2, 1, 1)
    assert harness.reasons() == [reason]


async def test_fields_not_carried_are_not_checked(tmp_path, harness):
    # SORTIE_CFA carries neither date_debut_contrat nor cause_rupture
    r = await harness.run("cfa", write_csv(tmp_path / "s.csv", HEADER, [row(ev="SORTIE_CFA", debut="n/a", cause="???")]))
    assert r.published == 1


async def test_corsica_commune_and_windows_1252(tmp_path, harness):
    p = write_csv(tmp_path / "w.csv", HEADER, [row(commune="2a004", nom="LEFÈVRE")], encoding="cp1252")
    r = await harness.run("cfa", p)
    assert r.published == 1
    assert harness.events[0]["person"]["commune_residence"] == "2A004" and harness.events[0]["person"]["nom"] == "LEFÈVRE"


async def test_under_15_at_event_date(tmp_path, harness):
    r = await harness.run("cfa", write_csv(tmp_path / "u.csv", HEADER, [row(naiss="02/09/2010")]))  # 14 on 01/09/2025
    assert (r.filtered, r.published, len(harness.events)) == (1, 0, 0)


async def test_15th_birthday_on_event_date_is_published(tmp_path, harness):
    r = await harness.run("cfa", write_csv(tmp_path / "b.csv", HEADER, [row(naiss="01/09/2010")]))  # 15 on 01/09/2025
    assert (r.filtered, r.published) == (0, 1)


async def test_surrounding_spaces_are_trimmed(tmp_path, harness):
    """hub.validation: surrounding spaces are always trimmed — `rqth` " o " is O, and the
    contract number (the event id's key) is the same fact with or without them."""
    await harness.run("cfa", write_csv(tmp_path / "a.csv", HEADER, [row(num="DECA-009")]))
    r = await harness.run("cfa", write_csv(tmp_path / "b.csv", HEADER, [row(num=" DECA-009 ", rqth=" o ")]))
    assert (r.rejected, r.unchanged) == (0, 1)
    r = await harness.run("cfa", write_csv(tmp_path / "c.csv", HEADER, [row(num=" DECA-010 ", rqth=" o ")]))
    assert r.published == 1
    e = harness.events[-1]
    assert e["numero_contrat"] == "DECA-010" and e["rqth"] is True


async def test_future_date_and_rerun(tmp_path, harness):
    p = write_csv(tmp_path / "f.csv", HEADER, [row(), row(num="DECA-002", d="01/02/2026")])
    r = await harness.run("cfa", p, as_of=date(2026, 1, 31))
    assert (r.published, r.rejected) == (1, 1) and harness.reasons() == ["FUTURE_DATE"]
    r = await harness.run("cfa", p)  # default as-of: the latest date_evenement
    assert (r.published, r.unchanged, r.rejected, r.as_of) == (1, 1, 0, date(2026, 2, 1))


async def test_trailing_empty_fields_may_be_left_off(tmp_path, harness):
    """A row ending `…;01/09/2025;01/09/2025` (no `;` for an empty cause_rupture) has 12
    fields against 13 columns: the missing trailing fields read as empty."""
    rows = [
        row(num="DECA-101").removesuffix(";"),  # 12 fields: cause_rupture left off
        row(num="DECA-102", ev="CONTRAT_ROMPU", d="10/01/2026").removesuffix(";"),
        # 11 fields: date_debut_contrat and cause_rupture left off, the former required here
        row(num="DECA-103", ev="CONTRAT_ROMPU", d="10/01/2026").rsplit(";", 2)[0],
        row(num="DECA-104") + ";x",  # 14 fields: more than the header, rejected as before
    ]
    r = await harness.run("cfa", write_csv(tmp_path / "t.csv", HEADER, rows))
    assert (r.read, r.published, r.rejected) == (4, 2, 2)
    assert [(d["position"], d["reason"]) for d in harness.dlq] == [("line 4", "MISSING_FIELD"), ("line 5", "BAD_VALUE")]
    assert "date_debut_contrat" in harness.dlq[0]["detail"] and harness.dlq[1]["row"] is None
    signe, rompu = harness.events
    assert signe["numero_contrat"] == "DECA-101" and rompu["cause_rupture"] is None


async def test_default_as_of_counts_rejected_rows(tmp_path, harness):
    """inputs.md: the default as-of is the latest date_evenement in the file — a row
    rejected for another reason than its date still has one; a bad date cannot count."""
    rows = [
        row(num="DECA-201", d="01/09/2025"),
        row(num="DECA-202", d="15/02/2026", siret="73282932000075"),  # BAD_SIRET, the latest date
        row(num="DECA-203", d="31/02/2026"),  # BAD_DATE: no date to count
    ]
    r = await harness.run("cfa", write_csv(tmp_path / "d.csv", HEADER, rows))
    assert (r.published, r.rejected, r.as_of) == (1, 2, date(2026, 2, 15))
    assert harness.sink.watermark_calls == [("cfa", date(2026, 2, 15))]
    # every row rejected, their dates valid: the watermark is still published at the latest
    rows = [row(num="DECA-204", d="01/03/2026", uai="0861234A"), row(num="DECA-205", d="02/03/2026", rqth="X")]
    r = await harness.run("cfa", write_csv(tmp_path / "all.csv", HEADER, rows))
    assert (r.published, r.rejected, r.as_of) == (0, 2, date(2026, 3, 2))
    assert harness.sink.watermark_calls[-1] == ("cfa", date(2026, 3, 2))
    # with --as-of nothing changes
    r = await harness.run("cfa", write_csv(tmp_path / "all.csv", HEADER, rows), as_of=date(2026, 3, 31))
    assert r.as_of == date(2026, 3, 31)
