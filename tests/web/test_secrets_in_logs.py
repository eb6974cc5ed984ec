"""No password, token, name or INE in what `hub serve` writes (rules.md §8)."""

from __future__ import annotations

import stat
import time
import uuid
from datetime import timedelta

import pytest

from hub.web.ops import today
from tests.web.conftest import PASSWORDS, csrf_of

pytestmark = pytest.mark.kafka


def test_nothing_secret_or_personal_reaches_the_server_log(web, seeded):
    tag = uuid.uuid4().hex[:6].upper()
    ine, nom = f"{uuid.uuid4().int % 10**9:09d}QX", f"SECRETLOG{tag}"
    # Log in (right and wrong passwords), post a record, record an action, fail a few things.
    c = web.login("obs86")
    with web.client() as anon:
        form = anon.get("/connexion")
        anon.post("/connexion", data={"csrf_token": csrf_of(form.text), "identifiant": "obs86",
                                      "mot_de_passe": "mauvais-mot-de-passe-tres-secret"})
    body = {"cti": "CTI-E-86-01", "uai": "0860012W", "type": "SUIVI", "date": (today() - timedelta(days=1)).isoformat(),
            "reference": f"fiche-{tag}", "motif": "motif confidentiel",
            "jeune": {"ine": ine, "nom": nom, "prenom": "Prénomsecret", "date_naissance": "2009-01-01"}}
    with web.client() as api:
        assert api.post("/api/v1/ingest/cti", json=body,
                        headers={"Authorization": f"Bearer {web.tokens['cti']}"}).status_code == 202
        bad = {**body, "uai": "0860013W"}
        assert api.post("/api/v1/ingest/cti", json=bad,
                        headers={"Authorization": f"Bearer {web.tokens['cti']}"}).status_code == 422
        assert api.post("/api/v1/ingest/cti", json=body,
                        headers={"Authorization": "Bearer hub_faux-jeton-secret"}).status_code == 401
    case = seeded.obs86["OUVERT"]
    page = c.get(f"/dossiers/{case['case_id']}")
    c.post(f"/dossiers/{case['case_id']}/actions", data={"csrf_token": csrf_of(page.text), "action": "CONTACTE",
                                                        "date": today().isoformat()})
    time.sleep(0.5)  # let the server flush its log lines
    log = web.log_text()
    assert "login" in log and "ingest accepted" in log  # the log is there and in use
    assert "HUB_PSEUDONYM_SECRET is not set" in log  # it keys posted records with the public default
    secrets = [*PASSWORDS.values(), "mauvais-mot-de-passe-tres-secret", "hub_faux-jeton-secret",
               *web.tokens.values()]
    personal = [ine, nom, "Prénomsecret", "motif confidentiel", case["person"]["nom"],
                *(c["person"]["nom"] for c in seeded.obs86.values()), "123456789ZZ", "Élodie"]
    for value in secrets + personal:
        assert value not in log, value


def test_every_line_the_server_writes_off_a_terminal_is_json(web, seeded):
    """Its start-up line included (a black-box audit found it plain text)."""
    import json

    lines = [line for line in web.log_text().splitlines() if line.strip()]
    assert lines and json.loads(lines[0])["event"] == "hub serve"
    for line in lines:
        json.loads(line)


def test_web_secret_and_account_store_are_private_files(web):
    for name in ("web-secret", "accounts.sqlite3"):
        assert stat.S_IMODE((web.home / name).stat().st_mode) == 0o600, name
    raw = (web.home / "accounts.sqlite3").read_bytes()
    for value in [*PASSWORDS.values(), *web.tokens.values()]:
        assert value.encode() not in raw
