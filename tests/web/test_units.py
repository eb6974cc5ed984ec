"""Pure parts of the web layer (no broker): ordering, timeline matching, action checks,
and the app's behaviour while Kafka is unreachable."""

from __future__ import annotations

from datetime import date

import contextlib
import json
import threading
import time

import httpx
import uvicorn

from hub.accounts import Account, AccountStore
from hub.kafka.embedded import free_port
from hub.settings import Settings
from hub.web.actions import ActionInput, action_event, check_action, timeline
from hub.web.pages import urgency, valid_case_id
from hub.web.view import ActionSeen

D = date


def case(cid: str, status: str, opened: date, alerted=None, closed=None, evidence=()) -> dict:
    return {"case_id": cid, "status": status, "opened_on": opened, "alerted_on": alerted, "closed_on": closed,
            "evidence": list(evidence)}


def test_most_urgent_first():
    cases = [
        case("c-1", "RESOLU", D(2026, 1, 1), closed=D(2026, 2, 1)),
        case("c-2", "OUVERT", D(2026, 5, 1)),
        case("c-3", "ALERTE", D(2026, 1, 1), alerted=D(2026, 4, 1)),
        case("c-4", "OUVERT", D(2026, 3, 1)),
        case("c-5", "CLOS", D(2026, 1, 1), closed=D(2026, 6, 1)),
        case("c-6", "ALERTE", D(2026, 2, 1), alerted=D(2026, 3, 1)),
        case("c-7", "TRANSFERE", D(2026, 1, 1), closed=D(2026, 1, 15)),
    ]
    assert [c["case_id"] for c in sorted(cases, key=urgency)] == ["c-6", "c-3", "c-4", "c-2", "c-5", "c-1", "c-7"]


def test_case_ids_are_checked_before_any_lookup():
    assert valid_case_id("c-" + "a1" * 12)
    for bad in ("c-" + "A1" * 12, "c-123", "../etc/passwd", "c-" + "g" * 24, ""):
        assert not valid_case_id(bad)


def seen(eid: str, day: date, ref: str, action: str = "RDV_PRIS") -> ActionSeen:
    return ActionSeen(eid, "c-x", action, None, day, "OBS-86", ref)


def test_timeline_names_reflected_actions_and_keeps_the_others_pending():
    evidence = [
        {"event_type": "ELEVE_SORTI", "event_date": D(2026, 1, 5), "source": "rectorat", "source_ref": "f.xml:ELEVE[1]"},
        {"event_type": "ACTION_SUIVI", "event_date": D(2026, 2, 1), "source": "suivi", "source_ref": "web:a"},
    ]
    actions = [seen("e-1", D(2026, 2, 1), "web:a", "CONTACTE"), seen("e-2", D(2026, 2, 1), "web:a", "RDV_PRIS"),
               seen("e-3", D(2026, 1, 20), "web:b", "INJOIGNABLE")]
    rows, pending = timeline(case("c-x", "OUVERT", D(2026, 1, 5), evidence=evidence), actions)
    assert [r.action.event_id if r.action else None for r in rows] == [None, "e-1"]
    assert [a.event_id for a in pending] == ["e-3", "e-2"]


def test_action_checks():
    today = D(2026, 3, 10)
    ok, errors = check_action("rdv_pris", "", None, today)
    assert errors == {} and ok == ActionInput("RDV_PRIS", today, None)
    ok, errors = check_action("SOLUTION_CONSEILLER", "01/03/2026", "apprentissage", today)
    assert ok == ActionInput("SOLUTION_CONSEILLER", D(2026, 3, 1), "APPRENTISSAGE")
    _, errors = check_action("SOLUTION_CONSEILLER", "2026-03-11", "", today)
    assert set(errors) == {"solution", "date"}
    _, errors = check_action("CONTACTE", "hier", "EMPLOI", today)
    assert set(errors) == {"solution", "date"}
    _, errors = check_action("DANSER", None, None, today)
    assert set(errors) == {"action"}
    # Before the case's opening: the engine would never reflect it (engine.py).
    ok, errors = check_action("CONTACTE", "2026-03-01", None, today, opened_on=D(2026, 3, 1))
    assert errors == {} and ok == ActionInput("CONTACTE", D(2026, 3, 1), None)
    ok, errors = check_action("CONTACTE", "2026-02-28", None, today, opened_on=D(2026, 3, 1))
    assert ok is None and errors == {"date": "La date ne peut pas précéder l'ouverture du dossier (01/03/2026)."}


def test_every_transfer_reason_the_engine_writes_has_a_french_label():
    from hub.rules.evidence import DEMENAGEMENT
    from hub.web.labels import TRANSFER_REASONS
    from hub.worker.core import DIRECTORY_TRANSFER

    assert set(TRANSFER_REASONS) == {DEMENAGEMENT, DIRECTORY_TRANSFER}
    assert TRANSFER_REASONS[DIRECTORY_TRANSFER] == "Mise à jour de l'annuaire"


def test_each_solution_kind_is_offered_once():
    from hub.types.events import SOLUTION_KINDS

    assert len(SOLUTION_KINDS) == len(set(SOLUTION_KINDS))
    assert {"RETOUR_SCOLAIRE", "APPRENTISSAGE", "ACCOMPAGNEMENT_ML", "EMPLOI", "FORMATION", "SCOLARITE",
            "SERVICE_CIVIQUE"} == set(SOLUTION_KINDS)


def test_action_event_is_deterministic_and_carries_the_cases_person():
    person = {"ine": None, "nom": "DUPONT", "prenom": "Élodie", "date_naissance": D(2008, 2, 14),
              "commune_residence": "86194"}
    the_case = {"case_id": "c-" + "0" * 24, "person": person}
    account = Account("marie", "MISSION_LOCALE", "ML-86-POI", None, True, False, False, "")
    asked = ActionInput("RDV_PRIS", D(2026, 3, 1), None)
    a, b = action_event(the_case, account, asked), action_event(the_case, account, asked)
    assert a["event_id"] == b["event_id"]
    assert a["person"] == person and a["auteur"] == "ML-86-POI" and a["source_ref"] == "web:marie"
    other = action_event(the_case, account, ActionInput("RDV_PRIS", D(2026, 3, 2), None))
    assert other["event_id"] != a["event_id"]
    from hub.avro import get_codec

    assert get_codec().decode(get_codec().encode_event(a))["case_id"] == the_case["case_id"]


@contextlib.contextmanager
def serving(app):
    """The app under a real uvicorn in a thread (its lifespan included)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(30)


def test_off_loopback_the_session_cookie_is_secure(tmp_path):
    from hub.web.app import create_app

    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", home=tmp_path)
    with serving(create_app(settings, secure_cookies=True, start_wait=20)) as client:
        page = client.get("/connexion")
    cookie = page.headers["set-cookie"].lower()
    assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert page.headers["strict-transport-security"].startswith("max-age=")


def test_without_kafka_healthz_is_503_and_pages_say_unavailable(tmp_path):
    from hub.web.app import create_app
    from tests.web.conftest import csrf_of

    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", home=tmp_path)
    store = AccountStore.for_home(tmp_path)
    store.add("obs", "OBSERVATOIRE", code="OBS-86", password="mot-de-passe-long-ok")
    token = store.add("si", "INSTITUTION", source="cti", code="CTI-E-86-01")
    with serving(create_app(settings, secure_cookies=False, start_wait=20)) as client:
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        form = client.get("/connexion")
        assert form.status_code == 200
        r = client.post("/connexion", data={"csrf_token": csrf_of(form.text), "identifiant": "obs",
                                           "mot_de_passe": "mot-de-passe-long-ok"}, follow_redirects=False)
        assert r.status_code == 303
        page = client.get("/dossiers")
        assert page.status_code == 503 and "indisponible" in page.text
        api = client.post("/api/v1/ingest/cti", json={}, headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 503
        assert client.get("/metrics").status_code == 503


def test_a_publish_that_timed_out_is_a_503_naming_the_record_to_send_again():
    import asyncio

    from starlette.requests import Request

    from hub.web.app import _unavailable
    from hub.web.state import Unavailable

    request = Request({"type": "http", "method": "POST", "path": "/api/v1/ingest/cti", "headers": [],
                       "query_string": b"", "server": ("127.0.0.1", 80), "scheme": "http", "root_path": ""})
    down = asyncio.run(_unavailable(request, Unavailable()))
    assert down.status_code == 503 and "event_id" not in json.loads(down.body)
    unconfirmed = asyncio.run(_unavailable(request, Unavailable("e-" + "1" * 32)))
    body = json.loads(unconfirmed.body)
    assert unconfirmed.status_code == 503 and body["event_id"] == "e-" + "1" * 32
    assert "renvoyez" in body["error"] and unconfirmed.headers["retry-after"] == "10"


def test_the_operations_report_is_unavailable_at_once_when_kafka_went_away(tmp_path, monkeypatch):
    """Found by a black-box audit: Kafka stopped under a running server, /metrics and
    /exploitation hung 18 s, then answered 500 with a traceback in the log."""
    import asyncio

    import pytest
    from aiokafka.errors import KafkaConnectionError

    from hub.web import state
    from hub.web.state import Unavailable, WebHub

    async def scenario(answers: bool, collect) -> float:
        hub = WebHub(Settings(kafka_bootstrap="127.0.0.1:1", home=tmp_path), AccountStore.for_home(tmp_path))
        hub.connected.set()  # connected once: Kafka went away afterwards
        hub._admin, hub._ops_consumer = object(), object()

        async def kafka_ok(timeout: float = 3.0) -> bool:
            return answers

        async def sync(timeout: float) -> None:
            return None

        monkeypatch.setattr(hub, "kafka_ok", kafka_ok)
        monkeypatch.setattr(hub.view, "sync", sync)
        monkeypatch.setattr(state, "collect", collect)
        start = time.monotonic()
        with pytest.raises(Unavailable):
            await hub.ops_report()
        return time.monotonic() - start

    async def never(*args, **kwargs):
        raise AssertionError("not asked without a broker")

    async def refused(*args, **kwargs):
        raise KafkaConnectionError("gone")

    async def hangs(*args, **kwargs):
        await asyncio.sleep(3600)

    assert asyncio.run(scenario(False, never)) < 1.0
    assert asyncio.run(scenario(True, refused)) < 1.0
    monkeypatch.setattr(state, "OPS_TIMEOUT", 0.2)
    assert asyncio.run(scenario(True, hangs)) < 1.0
