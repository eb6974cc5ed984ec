"""The pages and the actions API: visibility, CSRF, actions on suivi.actions.v1."""

from __future__ import annotations

import re
from html import unescape as html_text
from datetime import timedelta

import pytest

from hub.avro import get_codec
from hub.kafka.topics import ACTIONS
from hub.web.ops import today
from tests.web.conftest import PASSWORDS, csrf_of, end_offset_total, messages_with_id

pytestmark = pytest.mark.kafka


def case_ids_in(html: str) -> set[str]:
    return set(re.findall(r"c-[0-9a-f]{24}", html))


def test_pages_need_a_login_and_the_login_page_is_accessible(web):
    with web.client() as c:
        r = c.get("/dossiers")
        assert r.status_code == 303 and r.headers["location"].startswith("/connexion?suivant=%2Fdossiers")
        page = c.get("/connexion")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="fr">' in html
    assert '<label for="identifiant">' in html and '<label for="mot_de_passe">' in html
    assert "<h1>Connexion</h1>" in html and "<script" not in html
    assert page.headers["cache-control"] == "no-store"
    with web.client() as c:
        missing = c.get("/nulle-part")
        api_missing = c.get("/api/v1/nulle-part")
    assert missing.status_code == 404 and "Cette page n'existe pas." in html_text(missing.text)
    assert "Not Found" not in missing.text
    assert (api_missing.status_code, api_missing.json()) == (404, {"error": "Cette page n'existe pas."})
    assert "script-src 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_wrong_password_is_refused_with_the_same_message_as_an_unknown_account(web):
    answers = []
    for name, password in (("obs86", "pas-le-bon-mot-de-passe"), ("personne", "pas-le-bon-mot-de-passe")):
        with web.client() as c:
            form = c.get("/connexion")
            r = c.post("/connexion", data={"csrf_token": csrf_of(form.text), "identifiant": name,
                                          "mot_de_passe": password})
            answers.append((r.status_code, "Identifiant ou mot de passe incorrect" in r.text))
            assert c.get("/dossiers").status_code == 303  # still not logged in
    assert answers == [(401, True), (401, True)]


def test_institution_accounts_cannot_log_in(web):
    with web.client() as c:
        form = c.get("/connexion")
        r = c.post("/connexion", data={"csrf_token": csrf_of(form.text), "identifiant": "api-cti-e-86-01",
                                      "mot_de_passe": web.tokens["cti"]})
    assert r.status_code == 401


def test_forms_without_their_csrf_token_are_refused(web, seeded):
    with web.client() as c:
        c.get("/connexion")
        r = c.post("/connexion", data={"identifiant": "obs86", "mot_de_passe": PASSWORDS["obs86"]})
        assert r.status_code == 403
        r = c.post("/connexion", data={"csrf_token": "faux", "identifiant": "obs86",
                                      "mot_de_passe": PASSWORDS["obs86"]})
        assert r.status_code == 403
    case = seeded.obs86["OUVERT"]
    c = web.login("obs86")
    for data in ({"action": "CONTACTE", "date": today().isoformat()},
                 {"action": "CONTACTE", "date": today().isoformat(), "csrf_token": "un-autre-jeton"}):
        r = c.post(f"/dossiers/{case['case_id']}/actions", data=data)
        assert r.status_code == 403
    assert c.post("/deconnexion", data={}).status_code == 403
    # The JSON API with a session needs the X-CSRF-Token header.
    r = c.post(f"/api/v1/cases/{case['case_id']}/actions", json={"action": "CONTACTE"})
    assert r.status_code == 403
    page = c.get(f"/dossiers/{case['case_id']}")
    assert "Jeune contacté" not in page.text.split("Enregistrer une action")[0]


def test_an_observatory_sees_only_its_cases_most_urgent_first(web, seeded):
    c = web.login("obs86")
    html = c.get("/dossiers").text
    ids = case_ids_in(html)
    mine = {x["case_id"] for x in seeded.obs86.values()} | {seeded.transferred["case_id"]}
    assert mine <= ids
    assert not ids & {x["case_id"] for x in seeded.obs16.values()}
    assert f"WEB{seeded.tag}SEIZE" not in html and f"WEB{seeded.tag}DEMENAGE" not in html
    order = [m for m in re.findall(rf"WEB{seeded.tag}([A-Z]+)", html)]
    assert order == ["ALERTE", "ANCIEN", "OUVERT", "RESOLU"]
    assert "Dossier transféré" in html
    summary = html.split('class="resume">')[1].split("</p>")[0].split(":", 1)[1]
    counts = [(int(n), w.strip()) for n, w in re.findall(r"(\d+) ([^,.]+)", summary)]
    from hub.web.labels import STATUS_COUNTS
    forms = {one: many for one, many in STATUS_COUNTS.values()}
    assert ("ouverts" in [w for _, w in counts]) and counts, summary  # two open cases at least
    for n, word in counts:  # "1 ouvert", "2 ouverts"
        assert word == (next(one for one in forms if word in (one, forms[one])) if n == 1 else
                        next(forms[one] for one in forms if word in (one, forms[one]))), summary

    only_alerts = c.get("/dossiers", params={"statut": "ALERTE"}).text
    assert seeded.obs86["ALERTE"]["case_id"] in only_alerts and seeded.obs86["OUVERT"]["case_id"] not in only_alerts
    of_type = c.get("/dossiers", params={"type": "OBLIGATION_FORMATION"}).text
    assert case_ids_in(of_type) & mine == {seeded.obs86["ALERTE"]["case_id"]}
    lower = c.get("/dossiers", params={"type": "obligation_formation", "statut": " alerte"}).text
    assert case_ids_in(lower) & mine == {seeded.obs86["ALERTE"]["case_id"]}
    # An operator's filter means nothing to an observatory: still its own cases only.
    other = c.get("/dossiers", params={"observatoire": "OBS-16"}).text
    assert not case_ids_in(other) & {x["case_id"] for x in seeded.obs16.values()}


def test_another_observatorys_case_does_not_exist_anywhere(web, seeded):
    theirs = seeded.obs16["SEIZE"]["case_id"]
    nowhere = "c-" + "0" * 24
    actions_before = end_offset_total(web.settings, ACTIONS)
    c = web.login("obs86")
    a, b = c.get(f"/dossiers/{theirs}"), c.get(f"/dossiers/{nowhere}")
    assert a.status_code == b.status_code == 404
    assert a.text == b.text.replace(nowhere, theirs) or a.text == b.text
    assert f"WEB{seeded.tag}SEIZE" not in a.text and "123456789ZZ" not in a.text
    form = c.get(f"/dossiers/{seeded.obs86['OUVERT']['case_id']}")
    token = csrf_of(form.text)
    r = c.post(f"/dossiers/{theirs}/actions", data={"csrf_token": token, "action": "CONTACTE",
                                                   "date": today().isoformat()})
    assert r.status_code == 404
    r = c.post(f"/api/v1/cases/{theirs}/actions", json={"action": "CONTACTE"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 404
    # With a bearer token of OBS-16's staff, OBS-86's case is just as absent.
    with web.client() as api:
        r = api.post(f"/api/v1/cases/{seeded.obs86['OUVERT']['case_id']}/actions", json={"action": "CONTACTE"},
                     headers={"Authorization": f"Bearer {web.tokens['obs16']}"})
    assert r.status_code == 404
    assert end_offset_total(web.settings, ACTIONS) == actions_before  # no action published
    for path in ("/dossiers", "/dossiers?statut=OUVERT", "/exploitation", "/metrics"):
        assert f"WEB{seeded.tag}SEIZE" not in c.get(path).text


def test_a_counsellor_structure_sees_the_cases_assigned_to_it(web, seeded):
    ml = web.login("ml86")
    ids = case_ids_in(ml.get("/dossiers").text)
    assert {seeded.obs86[k]["case_id"] for k in ("OUVERT", "ANCIEN", "RESOLU")} <= ids
    assert seeded.obs86["ALERTE"]["case_id"] not in ids  # the CTI's
    assert seeded.transferred["case_id"] not in ids  # now ML-16-ANG's
    assert ml.get(f"/dossiers/{seeded.obs86['ALERTE']['case_id']}").status_code == 404
    cti = web.login("cti86")
    assert seeded.obs86["ALERTE"]["case_id"] in case_ids_in(cti.get("/dossiers").text)
    assert cti.get(f"/dossiers/{seeded.obs86['OUVERT']['case_id']}").status_code == 404
    assert cti.get("/exploitation").status_code == 403


def test_a_transferred_case_shows_no_personal_data_and_takes_no_action(web, seeded):
    c = web.login("obs86")
    cid = seeded.transferred["case_id"]
    page = c.get(f"/dossiers/{cid}")
    assert page.status_code == 200
    assert "Transféré" in page.text and "OBS-16" in page.text
    assert f"WEB{seeded.tag}DEMENAGE" not in page.text and "Enregistrer une action" not in page.text
    r = c.post(f"/dossiers/{cid}/actions", data={"csrf_token": csrf_of(page.text), "action": "CONTACTE",
                                                "date": today().isoformat()})
    assert r.status_code == 409
    # An action recorded by the observatory that now holds it is not "pending" for this one.
    new_owner = web.login("obs16")
    form = new_owner.get(f"/dossiers/{cid}")
    assert new_owner.post(f"/dossiers/{cid}/actions", data={"csrf_token": csrf_of(form.text), "action": "CONTACTE",
                                                            "date": today().isoformat()}).status_code == 303
    assert 'id="titre-attente"' in new_owner.get(f"/dossiers/{cid}").text
    assert 'id="titre-attente"' not in c.get(f"/dossiers/{cid}").text


def test_a_closed_case_says_an_action_does_not_reopen_it(web, seeded):
    c = web.login("obs86")
    assert 'id="note-clos"' in c.get(f"/dossiers/{seeded.obs86['RESOLU']['case_id']}").text
    assert 'id="note-clos"' not in c.get(f"/dossiers/{seeded.obs86['OUVERT']['case_id']}").text


def test_recording_an_action_publishes_it_once_keyed_by_case_with_the_cases_person(web, seeded):
    case = seeded.obs86["OUVERT"]
    c = web.login("obs86")
    page = c.get(f"/dossiers/{case['case_id']}")
    assert "<h2 id=\"chronologie\"" in page.text
    day = today() - timedelta(days=1)
    data = {"csrf_token": csrf_of(page.text), "action": "RDV_PRIS", "solution": "", "date": day.isoformat()}
    r = c.post(f"/dossiers/{case['case_id']}/actions", data=data)
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/dossiers/{case['case_id']}?action=enregistree")
    shown = c.get(r.headers["location"]).text
    pending = shown.split('id="titre-attente"')[1].split("Enregistrer une action")[0]
    assert "Rendez-vous pris" in pending and "web:obs86" in pending
    assert c.post(f"/dossiers/{case['case_id']}/actions", data=data).status_code == 303  # same action again

    from hub.identity import event_id

    eid = event_id("suivi", case["case_id"], "RDV_PRIS", day.isoformat(), "obs86", "")
    found = messages_with_id(web.settings, ACTIONS, eid)
    assert len(found) == 1
    assert found[0].key == case["case_id"].encode()
    event = get_codec().decode(found[0].value)
    assert event["event_type"] == "ACTION_SUIVI" and event["source"] == "suivi"
    assert event["source_ref"] == "web:obs86" and event["auteur"] == "OBS-86"
    assert (event["case_id"], event["action"], event["solution"], event["event_date"]) == (
        case["case_id"], "RDV_PRIS", None, day)
    assert event["person"] == case["person"] and event["commentaire"] is None


def test_action_form_errors_are_listed_and_nothing_is_published(web, seeded):
    case = seeded.obs86["ANCIEN"]
    c = web.login("obs86")
    token = csrf_of(c.get(f"/dossiers/{case['case_id']}").text)
    future = (today() + timedelta(days=3)).isoformat()
    r = c.post(f"/dossiers/{case['case_id']}/actions",
               data={"csrf_token": token, "action": "SOLUTION_CONSEILLER", "solution": "", "date": future})
    assert r.status_code == 422
    assert 'role="alert"' in r.text and "précisez la solution" in r.text and "futur" in r.text
    assert "Actions en attente" not in r.text


def test_actions_api_with_a_bearer_token(web, seeded):
    case = seeded.obs86["ANCIEN"]
    headers = {"Authorization": f"Bearer {web.tokens['ml86']}"}
    with web.client() as api:
        body = {"action": "SOLUTION_CONSEILLER", "solution": "APPRENTISSAGE", "date": today().isoformat()}
        first = api.post(f"/api/v1/cases/{case['case_id']}/actions", json=body, headers=headers)
        second = api.post(f"/api/v1/cases/{case['case_id']}/actions", json=body, headers=headers)
        bad = api.post(f"/api/v1/cases/{case['case_id']}/actions", json={"action": "DANSER"}, headers=headers)
        early = api.post(f"/api/v1/cases/{case['case_id']}/actions", headers=headers,
                         json={"action": "CONTACTE", "date": (case["opened_on"] - timedelta(days=1)).isoformat()})
        anonymous = api.post(f"/api/v1/cases/{case['case_id']}/actions", json=body)
        institution = api.post(f"/api/v1/cases/{case['case_id']}/actions", json=body,
                               headers={"Authorization": f"Bearer {web.tokens['cti']}"})
    assert first.status_code == second.status_code == 202
    assert first.json()["status"] == "published" and second.json()["status"] == "unchanged"
    assert first.json()["event_id"] == second.json()["event_id"]
    assert bad.status_code == 422 and "action" in bad.json()["errors"]
    assert early.status_code == 422 and "ouverture du dossier" in early.json()["errors"]["date"]
    assert anonymous.status_code == 401 and institution.status_code == 403
    event = get_codec().decode(messages_with_id(web.settings, ACTIONS, first.json()["event_id"])[0].value)
    assert (event["auteur"], event["solution"], event["source_ref"]) == ("ML-86-POI", "APPRENTISSAGE", "web:ml86")


def test_operator_sees_every_case_and_the_operator_page_but_records_no_action(web, seeded):
    c = web.login("oper")
    assert c.get("/").headers["location"] == "/exploitation"
    page = c.get("/exploitation")
    assert page.status_code == 200
    for text in ("Horloge du hub", "Retard du moteur", "Rejets", "cti.signalements.v1", web.env["HUB_WORKER_ID"]):
        assert text in page.text
    ids = case_ids_in(c.get("/dossiers", params={"observatoire": "OBS-16"}).text)
    assert seeded.obs16["SEIZE"]["case_id"] in ids and seeded.obs86["OUVERT"]["case_id"] not in ids
    detail = c.get(f"/dossiers/{seeded.obs16['SEIZE']['case_id']}")
    assert detail.status_code == 200 and "Enregistrer une action" not in detail.text
    r = c.post(f"/dossiers/{seeded.obs16['SEIZE']['case_id']}/actions",
               data={"csrf_token": csrf_of(detail.text), "action": "CONTACTE", "date": today().isoformat()})
    assert r.status_code == 403
    assert web.login("obs86").get("/exploitation").status_code == 403


def test_disabling_an_account_ends_its_session(web):
    from hub.accounts import AccountStore

    store = AccountStore.for_home(web.home)
    store.add("temporaire", "OBSERVATOIRE", code="OBS-79", password="temporaire-mot-de-passe")
    c = web.login("temporaire", "temporaire-mot-de-passe")
    assert c.get("/dossiers").status_code == 200
    kept = dict(c.cookies)  # the cookie as a client may have kept it
    store.set_disabled("temporaire")
    assert c.get("/dossiers").status_code == 303
    # Enabled again, the account does not bring its old sessions back.
    store.set_disabled("temporaire", False)
    with web.client() as replay:
        replay.cookies.update(kept)
        assert replay.get("/dossiers").status_code == 303


def test_a_new_password_ends_the_sessions_opened_before(web):
    from hub.accounts import AccountStore

    store = AccountStore.for_home(web.home)
    store.add("changeant", "OBSERVATOIRE", code="OBS-79", password="ancien-mot-de-passe")
    before = web.login("changeant", "ancien-mot-de-passe")
    assert before.get("/dossiers").status_code == 200
    store.set_password("changeant", "nouveau-mot-de-passe")
    assert before.get("/dossiers").status_code == 303
    after = web.login("changeant", "nouveau-mot-de-passe")
    assert after.get("/dossiers").status_code == 200


def test_logout(web):
    c = web.login("obs16")
    other = web.login("obs16")  # another session of the same account
    page = c.get("/dossiers")
    stolen = dict(c.cookies)  # a copy of the cookie, taken before the logout
    r = c.post("/deconnexion", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/connexion"
    assert c.get("/dossiers").status_code == 303
    with web.client(cookies=stolen) as copy:
        assert copy.get("/dossiers").status_code == 303
    assert other.get("/dossiers").status_code == 200  # only that session ended


def test_healthz_and_metrics(web, seeded):
    with web.client() as c:
        assert c.post("/api/v1/ingest/cti", json={}).status_code == 401
        health = c.get("/healthz")
        metrics = c.get("/metrics")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for name in ("hub_events_in_total{topic=\"cti.signalements.v1\"}", "hub_events_out_total{topic=\"cases.v1\"}",
                 "hub_cases{", "hub_consumer_lag{", "hub_http_ingest_requests_total{"):
        assert name in text, name
    cases = {(m["type"], m["status"]): float(m["n"]) for m in re.finditer(
        r'^hub_cases\{status="(?P<status>\w+)",type="(?P<type>\w+)"\} (?P<n>\S+)$', text, re.M)}
    assert len(cases) == 16 and sum(n for (t, _), n in cases.items() if t == "DECROCHAGE") >= 3
    assert cases[("PREVENTION", "CLOS")] >= 0  # every type and status, zeros included
    # Counters never go down: none is computed from the current cases, which retention erases.
    assert "hub_cases_opened" not in text and "hub_cases_closed" not in text
    assert 'hub_http_ingest_requests_total{outcome="unauthorized",source="cti"}' in text
    assert "_created" not in text


def test_a_tombstone_removes_the_case_from_every_view(web, seeded):
    from hub.kafka.topics import CASES, observatory_topic
    from tests.web.conftest import case_record, produce_cases

    gone = case_record(seeded.tag, "EFFACE", obs="OBS-86", role="MISSION_LOCALE", code="ML-86-POI",
                       status="RESOLU", closed=today() - timedelta(days=800))
    cid = gone["case_id"]
    produce_cases(web.settings, [(CASES, gone, cid), (observatory_topic("OBS-86"), gone, cid)])
    obs, ml = web.login("obs86"), web.login("ml86")
    assert cid in obs.get("/dossiers").text and cid in ml.get("/dossiers").text
    produce_cases(web.settings, [(CASES, None, cid), (observatory_topic("OBS-86"), None, cid)])
    for c in (obs, ml):
        assert cid not in c.get("/dossiers").text
        assert c.get(f"/dossiers/{cid}").status_code == 404


def test_a_new_observatory_topic_is_picked_up_while_running(web, seeded):
    import asyncio

    from hub.accounts import AccountStore
    from hub.kafka import client
    from hub.kafka.topics import CASES, TopicSpec, apply_topics, observatory_topic
    from tests.web.conftest import case_record, produce_cases

    code = f"OBS-T{seeded.tag}"

    async def create() -> None:
        admin = client.admin(web.settings)
        await admin.start()
        try:
            await apply_topics(admin, [TopicSpec(observatory_topic(code), 2, compacted=True)], 1)
        finally:
            await admin.close()

    asyncio.run(create())
    new = case_record(seeded.tag, "NOUVEL", obs=code, role="OBSERVATOIRE", code=code)
    produce_cases(web.settings, [(CASES, new, new["case_id"]), (observatory_topic(code), new, new["case_id"])])
    AccountStore.for_home(web.home).add(f"u{seeded.tag.lower()}", "OBSERVATOIRE", code=code,
                                        password="nouvel-observatoire-mdp")
    c = web.login(f"u{seeded.tag.lower()}", "nouvel-observatoire-mdp")
    assert case_ids_in(c.get("/dossiers").text) == {new["case_id"]}


def test_a_case_written_with_a_newer_case_schema_is_shown(web, tmp_path):
    """A newer worker (case v2 = v1 + an optional field) wrote a case while `hub serve`
    runs: its schema comes on hub.schemas.v1 first, and the page shows the case."""
    import asyncio
    import json
    import shutil
    import uuid
    from pathlib import Path

    from hub.avro import Codec
    from hub.avro.registry import schema_record
    from hub.kafka import client
    from hub.kafka.topics import CASES, SCHEMAS, observatory_topic
    from tests.web.conftest import case_record

    tag = uuid.uuid4().hex[:6].upper()
    folder = tmp_path / "schemas"
    shutil.copytree(Path(__file__).resolve().parents[2] / "schemas", folder)
    v1 = json.loads((folder / "case.v1.avsc").read_text())
    v1["fields"].append({"name": f"priorite_{tag.lower()}", "type": ["null", "int"], "default": None})
    (folder / "case.v2.avsc").write_text(json.dumps(v1))
    newer = Codec(folder)
    case = case_record(tag, "NOUVEAU", obs="OBS-86", role="MISSION_LOCALE", code="ML-86-POI")

    async def go() -> None:
        producer = client.producer(web.settings)
        await producer.start()
        try:
            key, value = schema_record(newer.latest("case"))
            await producer.send_and_wait(SCHEMAS, value, key=key.encode())
            data = newer.encode("case", {**case, f"priorite_{tag.lower()}": 1})
            for topic in (CASES, observatory_topic("OBS-86")):
                await producer.send_and_wait(topic, data, key=case["case_id"].encode())
        finally:
            await producer.stop()

    asyncio.run(go())
    c = web.login("obs86")
    assert case["case_id"] in case_ids_in(c.get("/dossiers").text)
    assert f"WEB{tag}NOUVEAU" in c.get(f"/dossiers/{case['case_id']}").text


def test_a_case_fetched_before_its_schema_record_is_read_once_the_view_has_caught_up(settings, tmp_path, monkeypatch):
    """The view reads hub.schemas.v1 first in each fetch; a case written with a newer
    version can still come in a fetch before its schema record's. It is then read
    after the view catches up with the schemas topic; a version on that topic neither
    is counted unreadable, and the topic is not read again for each of its records."""
    import asyncio
    import json
    import shutil
    import uuid
    from pathlib import Path
    from types import SimpleNamespace

    from hub.avro import Codec
    from hub.avro.registry import schema_record
    from hub.kafka import client
    from hub.kafka.topics import CASES, SCHEMAS, apply_topics, declared_topics
    from hub.web import view as view_module
    from tests.web.conftest import case_record

    def newer_codec(name: str) -> Codec:
        folder = tmp_path / name
        shutil.copytree(Path(__file__).resolve().parents[2] / "schemas", folder)
        v1 = json.loads((folder / "case.v1.avsc").read_text())
        v1["fields"].append({"name": f"{name}_{uuid.uuid4().hex[:6]}", "type": ["null", "int"], "default": None})
        (folder / "case.v2.avsc").write_text(json.dumps(v1))
        return Codec(folder)

    published, unpublished = newer_codec("published"), newer_codec("nowhere")
    case = case_record("LATE", "SCHEMA", obs="OBS-86", role="MISSION_LOCALE", code="ML-86-POI")
    reads = []
    learn = view_module.learn_schemas

    async def counted(codec, s=None):
        reads.append(1)
        return await learn(codec, s)

    monkeypatch.setattr(view_module, "learn_schemas", counted)

    async def go() -> None:
        admin = client.admin(settings)
        await admin.start()
        try:
            await apply_topics(admin, [t for t in declared_topics(settings, []) if t.name == SCHEMAS], 1)
        finally:
            await admin.close()
        view = view_module.TopicView(settings, Codec(Path(__file__).resolve().parents[2] / "schemas"))
        producer = client.producer(settings)
        await producer.start()
        try:
            key, value = schema_record(published.latest("case"))
            await producer.send_and_wait(SCHEMAS, value, key=key.encode())
        finally:
            await producer.stop()
        record = SimpleNamespace(key=case["case_id"].encode(), value=published.encode("case", case), offset=0)
        await view._apply_learning(CASES, record)
        assert view.cases[case["case_id"]]["case_id"] == case["case_id"] and reads == [1]
        other = dict(case, case_id="c-" + uuid.uuid4().hex[:24])
        for _ in range(3):
            record = SimpleNamespace(key=other["case_id"].encode(), value=unpublished.encode("case", other), offset=1)
            await view._apply_learning(CASES, record)
        assert other["case_id"] not in view.cases
        assert view.unreadable[CASES] == 3 and reads == [1, 1]

    asyncio.run(go())
