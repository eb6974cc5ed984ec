"""`POST /api/v1/ingest/{source}` against a real `hub serve` and the real broker."""

from __future__ import annotations

import json
import random
import string
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from hub.avro import get_codec
from hub.kafka.topics import dlq_topic
from hub.types.events import SOURCE_TOPICS
from hub.web.ops import today
from tests.conftest import run_hub
from tests.connectors.helpers import SIRET
from tests.web.conftest import end_offset_total, messages_with_id

pytestmark = pytest.mark.kafka

CTI_TOPIC = SOURCE_TOPICS["cti"]


def random_ine() -> str:
    return "".join(random.choices(string.digits, k=9)) + "".join(random.choices(string.ascii_uppercase, k=2))


def years_ago(years: int, days: int = 0):
    t = today()
    return t.replace(year=t.year - years, day=min(t.day, 28)) - timedelta(days=days)


def reperage(reference: str, *, cti: str = "CTI-E-86-01", ine: str | None = None, nom: str | None = None,
             born=None, day=None, **extra) -> dict:
    return {
        "cti": cti, "uai": "0860012W", "type": "REPERAGE", "date": (day or today() - timedelta(days=2)).isoformat(),
        "reference": reference, "motif": "absences répétées",
        "jeune": {"ine": ine, "nom": nom or f"API{reference[-6:].upper()}", "prenom": "Léa",
                  "date_naissance": (born or years_ago(17)).isoformat(), "commune_residence": "86194"},
        **extra,
    }


def post(web, source: str, body, token: str | None = None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with web.client() as c:
        if isinstance(body, (dict, list)):
            return c.post(f"/api/v1/ingest/{source}", json=body, headers=headers, **kwargs)
        return c.post(f"/api/v1/ingest/{source}", content=body, headers=headers, **kwargs)


def test_missing_unknown_or_disabled_token_is_401(web):
    body = reperage(f"fiche-{uuid.uuid4().hex[:8]}")
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer hub_inconnu"}, {"Authorization": f"Bearer {web.tokens['disabled']}"}):
        with web.client() as c:
            r = c.post("/api/v1/ingest/cti", json=body, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "error" in r.json()


def test_token_of_another_source_or_code_is_403_and_publishes_nothing(web):
    before = end_offset_total(web.settings, CTI_TOPIC)
    body = reperage(f"fiche-{uuid.uuid4().hex[:8]}")
    assert post(web, "cti", body, web.tokens["cfa"]).status_code == 403
    assert post(web, "cfa", {"numero_contrat": "X"}, web.tokens["cti"]).status_code == 403
    unknown = post(web, "nimporte", body, web.tokens["cti"])  # no such source: 404, not a question of rights
    assert unknown.status_code == 404 and "source inconnue" in unknown.json()["error"]
    # A counsellor's token is not an institution's.
    assert post(web, "cti", body, web.tokens["ml86"]).status_code == 403
    # A CTI token bound to CTI-E-86-01 cannot post for another CTI.
    other = post(web, "cti", {**body, "cti": "CTI-E-86-02"}, web.tokens["cti"])
    assert other.status_code == 403
    assert "CTI-E-86-01" in other.json()["error"]
    assert end_offset_total(web.settings, CTI_TOPIC) == before


def test_a_field_given_twice_cannot_pass_the_binding_check_and_publishes_nothing(web):
    """Found by a black-box audit: the check read the first `cti`, the connector the last
    (`CTI`), so a token bound to CTI-E-86-01 published for CTI-E-17-01."""
    before = end_offset_total(web.settings, CTI_TOPIC)
    body = json.dumps(reperage(f"fiche-{uuid.uuid4().hex[:8]}"))
    for twice, field in ((body.replace('"cti": "CTI-E-86-01"', '"cti": "CTI-E-86-01", "CTI": "CTI-E-17-01"'), "cti"),
                         (body.replace('"cti": "CTI-E-86-01"', '"cti": "", " Cti ": "CTI-E-17-01"'), "cti"),
                         (body.replace('"nom": ', '"NOM": "AUTRE", "nom": '), "jeune.nom")):
        assert twice != body
        r = post(web, "cti", twice.encode(), web.tokens["cti"])
        assert r.status_code == 422, twice
        assert [(x["reason"], x["field"]) for x in r.json()["reasons"]] == [("BAD_VALUE", field)]
    # The same key twice, exactly: JSON parsers disagree on which one wins.
    exact = body.replace('"cti": "CTI-E-86-01"', '"cti": "CTI-E-86-01", "cti": "CTI-E-17-01"')
    r = post(web, "cti", exact.encode(), web.tokens["cti"])
    assert r.status_code == 422
    assert r.json()["reasons"] == [{"reason": "BAD_JSON", "detail": "JSON invalide : clé 'cti' en double dans un objet",
                                    "field": None}]
    broken = post(web, "cti", b'{"cti": "CTI-E-86-01",', web.tokens["cti"])
    assert broken.json()["reasons"][0]["detail"] == "JSON invalide (ligne 1, colonne 23)"
    assert end_offset_total(web.settings, CTI_TOPIC) == before


def test_invalid_record_is_422_with_every_reason_and_nothing_published(web):
    topics = (CTI_TOPIC, dlq_topic(CTI_TOPIC))
    before = [end_offset_total(web.settings, t) for t in topics]
    body = reperage(f"fiche-{uuid.uuid4().hex[:8]}", uai="0860013W", type="REPERAGX")
    body["jeune"]["nom"] = ""
    r = post(web, "cti", body, web.tokens["cti"])
    assert r.status_code == 422
    assert r.json()["status"] == "rejected"
    reasons = {(x["reason"], x["field"]) for x in r.json()["reasons"]}
    assert reasons == {("BAD_UAI", "uai"), ("BAD_VALUE", "type"), ("MISSING_FIELD", "jeune.nom")}
    assert all(x["detail"] for x in r.json()["reasons"])

    not_json = post(web, "cti", b"{pas du json", web.tokens["cti"])
    assert not_json.status_code == 422 and not_json.json()["reasons"][0]["reason"] == "BAD_JSON"
    a_list = post(web, "cti", [body], web.tokens["cti"])
    assert a_list.status_code == 422 and a_list.json()["reasons"][0]["reason"] == "BAD_JSON"
    no_utf8 = json.dumps(reperage(f"fiche-{uuid.uuid4().hex[:8]}", motif="x")).replace('"x"', '"\\udc00"')
    for unusable in (no_utf8.encode(), b"[" * 5_000 + b"]" * 5_000, json.dumps(body).replace('"CTI', 'NaN, "x": "CTI').encode()):
        r = post(web, "cti", unusable, web.tokens["cti"])
        assert r.status_code == 422 and r.json()["reasons"][0]["reason"] == "BAD_JSON"

    future = post(web, "cti", reperage(f"fiche-{uuid.uuid4().hex[:8]}", day=today() + timedelta(days=1)),
                  web.tokens["cti"])
    assert future.status_code == 422
    assert [x["reason"] for x in future.json()["reasons"]] == ["FUTURE_DATE"]
    assert [end_offset_total(web.settings, t) for t in topics] == before


def test_reperage_is_published_on_cti_topic_once_with_a_stable_event_id(web):
    reference = f"fiche-{uuid.uuid4().hex[:8]}"
    ine = random_ine()
    body = reperage(reference, ine=ine)
    first = post(web, "cti", body, web.tokens["cti"])
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "published" and first.json()["published"] == 1
    event_id = first.json()["event_id"]
    assert first.json()["event_ids"] == [event_id] and event_id.startswith("e-")

    again = post(web, "cti", body, web.tokens["cti"])
    assert again.status_code == 202
    assert again.json()["event_id"] == event_id
    assert again.json()["status"] == "unchanged" and again.json()["published"] == 0

    found = messages_with_id(web.settings, CTI_TOPIC, event_id)
    assert len(found) == 1
    event = get_codec().decode(found[0].value)
    assert found[0].key == ine.encode()  # keyed by person (INE)
    assert event["event_type"] == "SIGNALEMENT_CTI" and event["source"] == "cti"
    assert (event["cti"], event["type"], event["reference"], event["source_ref"]) == ("CTI-E-86-01", "REPERAGE",
                                                                                      reference, reference)
    assert event["person"]["ine"] == ine and event["person"]["prenom"] == "Léa"
    assert event["event_date"] == today() - timedelta(days=2)


def test_a_record_ingested_from_a_file_while_the_server_runs_is_unchanged_when_posted(web, tmp_path):
    # The server read the topic's ids at its start; a file ingest came after.
    body = reperage(f"fiche-{uuid.uuid4().hex[:8]}", ine=random_ine())
    warm = post(web, "cti", reperage(f"fiche-{uuid.uuid4().hex[:8]}", ine=random_ine()), web.tokens["cti"])
    assert warm.json()["status"] == "published"
    path = tmp_path / "cti.jsonl"
    path.write_text(json.dumps(body, ensure_ascii=False) + "\n", encoding="utf-8")
    done = run_hub("ingest", "cti", str(path), "--json", env=web.env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["published"] == 1
    again = post(web, "cti", body, web.tokens["cti"])
    assert again.status_code == 202, again.text
    assert (again.json()["status"], again.json()["published"]) == ("unchanged", 0)
    assert len(messages_with_id(web.settings, CTI_TOPIC, again.json()["event_id"])) == 1


def test_identical_posts_racing_each_other_publish_one_message(web):
    body = reperage(f"fiche-{uuid.uuid4().hex[:8]}", ine=random_ine())
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post(web, "cti", body, web.tokens["cti"]), range(6)))
    assert {a.status_code for a in answers} == {202}
    ids = {a.json()["event_id"] for a in answers}
    assert len(ids) == 1
    assert sorted(a.json()["status"] for a in answers) == ["published"] + ["unchanged"] * 5
    assert len(messages_with_id(web.settings, CTI_TOPIC, ids.pop())) == 1


def test_under_15_is_answered_filtered_and_not_published(web):
    before = end_offset_total(web.settings, CTI_TOPIC)
    r = post(web, "cti", reperage(f"fiche-{uuid.uuid4().hex[:8]}", born=years_ago(14)), web.tokens["cti"])
    assert r.status_code == 202  # accepted (interfaces.md), not published
    assert r.json() == {"status": "filtered", "filtered": True, "event_id": None, "event_ids": []}
    assert end_offset_total(web.settings, CTI_TOPIC) == before


def test_cfa_row_keyed_by_column_is_published(web):
    ine = "2023A" + "".join(random.choices(string.digits, k=5)) + "B"
    row = {"numero_contrat": f"DECA-{uuid.uuid4().hex[:6]}", "UAI_CFA": "0861410R", "siret_employeur": SIRET,
           "ine": ine, "nom": "APICFA", "prenom": "Noé", "date_naissance": years_ago(18).strftime("%d/%m/%Y"),
           "commune_residence": "86194", "rqth": "N", "evenement": "CONTRAT_ROMPU",
           "date_evenement": (today() - timedelta(days=3)).isoformat(),
           "date_debut_contrat": (today() - timedelta(days=30)).isoformat(), "cause_rupture": "DEMISSION_APPRENTI"}
    r = post(web, "cfa", row, web.tokens["cfa"])
    assert r.status_code == 202, r.text
    found = messages_with_id(web.settings, SOURCE_TOPICS["cfa"], r.json()["event_id"])
    assert len(found) == 1
    event = get_codec().decode(found[0].value)
    assert event["event_type"] == "CONTRAT_ROMPU" and event["source_ref"] == "api:api-cfa"
    assert event["rqth"] is False and event["uai_cfa"] == "0861410R"


def test_rectorat_pupil_posted_alone_gives_its_events(web):
    eleve = {"UAJ": "0860012W", "ELEVE_ID": uuid.uuid4().hex[:7], "ID_NATIONAL": random_ine(),
             "NOM_DE_FAMILLE": "APIRECTORAT", "PRENOM": "Inès", "DATE_NAISS": years_ago(17).isoformat(),
             "DATE_ENTREE": (today() - timedelta(days=80)).isoformat(),
             "DATE_SORTIE": (today() - timedelta(days=5)).isoformat(), "CODE_MOTIF_SORTIE": "05"}
    r = post(web, "rectorat", eleve, web.tokens["rectorat"])
    assert r.status_code == 202, r.text
    assert r.json()["published"] == 2 and len(r.json()["event_ids"]) == 2
    types = {get_codec().decode(m.value)["event_type"]
             for eid in r.json()["event_ids"] for m in messages_with_id(web.settings, SOURCE_TOPICS["rectorat"], eid)}
    assert types == {"ELEVE_INSCRIT", "ELEVE_SORTI"}


def test_a_body_over_64_kib_is_413(web):
    body = reperage(f"fiche-{uuid.uuid4().hex[:8]}", motif="x" * 70_000)
    assert post(web, "cti", body, web.tokens["cti"]).status_code == 413
