"""`hub accounts` and the accounts store: hashed secrets, roles, disabling."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
import subprocess
import sys

import pytest

from hub.accounts import AccountStore, store_path
from hub.accounts import secrets as hub_secrets
from hub.errors import InputError
from hub.settings import Settings
from hub.web.app import create_app
from tests.conftest import run_hub


def test_store_keeps_only_hashes(tmp_path):
    store = AccountStore.for_home(tmp_path)
    password = "un-mot-de-passe-assez-long"
    assert store.add("alice", "OBSERVATOIRE", code="OBS-86", password=password) is None
    token = store.add("si-cti", "INSTITUTION", source="cti", code="CTI-E-86-01")
    assert token and token.startswith("hub_") and len(token) > 40
    raw = store_path(tmp_path).read_bytes()
    assert password.encode() not in raw and token.encode() not in raw
    rows = sqlite3.connect(store_path(tmp_path)).execute("SELECT name, password_hash, token_hash FROM accounts").fetchall()
    hashes = {name: (pw, tk) for name, pw, tk in rows}
    assert hashes["alice"][0].startswith("$argon2id$") and hashes["alice"][1] is None
    assert hashes["si-cti"][0] is None and re.fullmatch(r"sha256:[0-9a-f]{64}", hashes["si-cti"][1])
    assert stat.S_IMODE(store_path(tmp_path).stat().st_mode) == 0o600

    assert store.authenticate("alice", password).code == "OBS-86"
    assert store.authenticate("alice", password + "x") is None
    assert store.authenticate("bob", password) is None
    assert store.by_token(token).source == "cti"
    assert store.by_token(token + "x") is None
    store.set_disabled("si-cti")
    assert store.by_token(token) is None
    new = store.rotate_token("si-cti")
    store.set_disabled("si-cti", False)
    assert store.by_token(token) is None and store.by_token(new).name == "si-cti"


def test_an_unknown_name_costs_one_argon2_verification_made_ready_by_the_web_app(tmp_path, monkeypatch):
    # No command but `hub serve` pays for the dummy hash: importing the command line
    # does not make it (it is an Argon2 hash of 64 MiB, ≈ 0.15 s).
    probe = ("import hub.cli.main, hub.accounts.secrets as s; "
             "print(s.dummy_hash.cache_info().currsize)")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "0"
    hub_secrets.dummy_hash.cache_clear()
    create_app(Settings(home=tmp_path), secure_cookies=False)
    assert hub_secrets.dummy_hash.cache_info().currsize == 1
    assert hub_secrets.dummy_hash().startswith("$argon2id$")
    verified = []
    real = hub_secrets._hasher

    class Spy:
        def verify(self, h, pw):
            verified.append(h)
            return real.verify(h, pw)

    monkeypatch.setattr(hub_secrets, "_hasher", Spy())
    assert AccountStore.for_home(tmp_path).authenticate("personne", "un-mot-de-passe-assez-long") is None
    assert verified == [hub_secrets.dummy_hash()]


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="x1", role="OBSERVATOIRE", password="long-enough-password"), "--code"),
    (dict(name="x2", role="INSTITUTION"), "--source"),
    (dict(name="x3", role="INSTITUTION", source="cti"), "code de CTI"),
    (dict(name="x4", role="OPERATEUR", password="court"), "trop court"),
    (dict(name="x5", role="OPERATEUR"), "mot de passe ou d'un jeton"),
    (dict(name="x6", role="PIRATE", password="long-enough-password"), "rôle inconnu"),
    (dict(name="a b", role="OPERATEUR", password="long-enough-password"), "nom de compte invalide"),
])
def test_impossible_accounts_are_refused(tmp_path, kwargs, message):
    store = AccountStore.for_home(tmp_path)
    with pytest.raises(InputError, match=message):
        store.add(kwargs.pop("name"), kwargs.pop("role"), **kwargs)
    assert store.list() == []


@pytest.mark.kafka
def test_accounts_command_line(web, tmp_path):
    env = {**web.env, "HUB_HOME": str(tmp_path / "home")}  # the web package's broker and directory
    password = "mot-de-passe-de-test-86"
    added = run_hub("accounts", "add", "claire", "--role", "OBSERVATOIRE", "--code", "obs-86", "--password-stdin",
                    env=env, input=password + "\n")
    assert added.returncode == 0, added.stderr
    assert password not in added.stdout + added.stderr and added.stdout == ""

    token_run = run_hub("accounts", "add", "si-cfa", "--role", "INSTITUTION", "--source", "cfa", env=env, input="")
    assert token_run.returncode == 0, token_run.stderr
    token = token_run.stdout.strip()
    assert token.startswith("hub_") and "une seule fois" in token_run.stderr

    unknown = run_hub("accounts", "add", "paul", "--role", "OBSERVATOIRE", "--code", "OBS-99", "--password-stdin",
                      env=env, input=password + "\n")
    assert unknown.returncode == 2 and "inconnu de l'annuaire" in unknown.stderr
    wrong_kind = run_hub("accounts", "add", "paul", "--role", "CTI_REGION", "--code", "CTI-E-86-01",
                         "--password-stdin", env=env, input=password + "\n")
    assert wrong_kind.returncode == 2
    twice = run_hub("accounts", "add", "claire", "--role", "OPERATEUR", "--password-stdin", env=env,
                    input=password + "\n")
    assert twice.returncode == 2 and "existe déjà" in twice.stderr
    no_code = run_hub("accounts", "add", "zoe", "--role", "MISSION_LOCALE", env=env, input="")
    assert no_code.returncode == 2 and "--code" in no_code.stderr

    listed = run_hub("accounts", "list", "--json", env=env)
    assert listed.returncode == 0
    accounts = {a["name"]: a for a in map(json.loads, listed.stdout.splitlines())}
    assert accounts["claire"] == {**accounts["claire"], "role": "OBSERVATOIRE", "code": "OBS-86", "password": True,
                                  "token": False, "disabled": False}
    assert accounts["si-cfa"]["source"] == "cfa" and accounts["si-cfa"]["token"] is True
    table = run_hub("accounts", "list", env=env)
    assert "claire" in table.stdout and "$argon2" not in table.stdout + listed.stdout
    assert "OBSERVATOIRE" in table.stdout and "…" not in table.stdout  # piped: nothing cut
    assert token not in table.stdout + listed.stdout

    assert run_hub("accounts", "disable", "claire", env=env).returncode == 0
    assert json.loads(run_hub("accounts", "list", "--json", env=env).stdout.splitlines()[0])["disabled"] is True
    assert run_hub("accounts", "disable", "personne", env=env).returncode == 2
    # An unknown account is refused before a password is asked for (none on stdin here).
    nobody = run_hub("accounts", "password", "personne", env=env, input="")
    assert (nobody.returncode, nobody.stderr.strip()) == (2, "hub: error: compte inconnu 'personne'")
