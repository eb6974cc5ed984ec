"""Errors on the command line (interfaces.md): one clear line on stderr, a non-zero
exit status, 2 for bad input or usage. No broker is needed: these tests point
HUB_KAFKA_BOOTSTRAP at a port where nothing listens."""

from __future__ import annotations

import os
import time

import pytest

from hub.kafka.embedded import REPO_ROOT
from tests.conftest import run_hub

SAMPLE = REPO_ROOT / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"
UNREACHABLE = "127.0.0.1:1"


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "HUB_KAFKA_BOOTSTRAP": UNREACHABLE, "HUB_HOME": str(tmp_path / "home")}


@pytest.fixture
def cfa_file(tmp_path):
    path = tmp_path / "cfa.csv"
    path.write_text("numero_contrat;uai_cfa\n")
    return path


def the_line(result) -> str:
    """The one non-empty line of stderr (fails on anything else: a Usage block, an
    aiokafka log line, an `Unclosed AIOKafkaProducer` warning)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("ingest", "foo", "x.csv"),
         "hub ingest: error: Invalid value for '{rectorat|absenteisme|mission-locale|cfa|cti}': "
         "'foo' is not one of 'rectorat', 'absenteisme', 'mission-locale', 'cfa', 'cti'."),
        (("ingest", "cfa", "x.csv", "--as-of", "2026-13-45"),
         "hub ingest: error: Invalid value for '--as-of': date '2026-13-45' invalide: pas une date du calendrier "
         "(JJ/MM/AAAA ou AAAA-MM-JJ attendu)"),
        (("cases", "--format", "csv"), "hub cases: error: Invalid value for '--format': 'csv' is not one of"),
        (("cases", "--status", "BOGUS"),
         "hub cases: error: Invalid value for '--status': 'BOGUS' is not one of 'OUVERT', 'ALERTE', 'RESOLU', 'CLOS', "
         "'TRANSFERE'."),
        (("kafka", "start", "--port"), "hub kafka start: error: Option '--port' requires an argument."),
        (("dlq", "list", "cfa", "--bogus"), "hub dlq list: error: No such option: --bogus"),
        (("bogus",), "hub: error: No such command 'bogus'."),
        (("ingest", "cfa", "x.csv", "--bogus"), "hub ingest: error: No such option: --bogus"),
        (("directory", "load"), "hub directory load: error: Missing argument 'FILE'."),
        (("--bogus",), "hub: error: No such option: --bogus"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(env, args, expected):
    result = run_hub(*args, env=env, timeout=60)
    assert result.returncode == 2
    assert the_line(result).startswith(expected)
    assert result.stdout == ""


def test_help_is_unchanged(env):
    result = run_hub("ingest", "--help", env=env, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("Usage: hub ingest [OPTIONS] {rectorat|absenteisme|mission-locale|cfa|cti} PATH")


def test_help_names_case_insensitive_choices_as_the_spec_writes_them(env):
    """`--status ouvert` is accepted, but the help says OUVERT (click would say ouvert)."""
    result = run_hub("cases", "--help", env=env, timeout=60)
    assert "--status [OUVERT|ALERTE|RESOLU|CLOS|TRANSFERE]" in result.stdout
    result = run_hub("accounts", "add", "--help", env=env, timeout=60)
    assert "--role [OBSERVATOIRE|MISSION_LOCALE|CTI_ETAT|CTI_REGION|OPERATEUR|INSTITUTION]" in result.stdout


def test_a_message_on_several_lines_is_collapsed():
    from hub.cli.main import one_line

    assert one_line("Invalid value for 'X':\n  first reason\n\n  second reason ") == (
        "Invalid value for 'X': first reason second reason")


@pytest.mark.parametrize(
    "args",
    [
        ("topics", "apply"),
        ("topics", "list"),
        ("directory", "load", str(SAMPLE)),
        ("ingest", "cfa", "CFA_FILE"),
        ("ingest", "rectorat", "CFA_FILE"),
        ("cases",),
        ("cases", "--observatoire", "OBS-86"),
        ("status",),
        ("worker", "--until-idle"),
        ("dlq", "list", "cti"),
        ("dlq", "replay", "cti"),
    ],
)
def test_an_unreachable_broker_is_one_line_in_reasonable_time(env, cfa_file, args):
    start = time.monotonic()
    result = run_hub(*(str(cfa_file) if a == "CFA_FILE" else a for a in args), env=env, timeout=120)
    assert time.monotonic() - start < 30
    assert result.returncode == 1  # not bad input: the same command may work later
    assert the_line(result).startswith("hub: error: Kafka injoignable")


# --- `hub ingest SOURCE PATH`: the path is checked before Kafka --------------------------

@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [
        ("cfa", "absent.csv", "absent.csv: fichier introuvable"),
        ("rectorat", "absent", "absent: fichier introuvable"),
        ("cfa", ".", ": un fichier est attendu, pas un dossier"),
        ("cfa", "cfa.csv/x", "cfa.csv/x: fichier introuvable"),
    ],
)
def test_ingest_of_a_missing_path_is_exit_2_even_when_the_broker_is_down(env, cfa_file, source, name, expected):
    result = run_hub("ingest", source, str(cfa_file.parent / name), env=env, timeout=60)
    assert result.returncode == 2
    line = the_line(result)
    assert line.startswith("hub: error: ") and line.endswith(expected)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_ingest_of_an_unreadable_file_is_exit_2_even_when_the_broker_is_down(env, cfa_file):
    cfa_file.chmod(0)
    result = run_hub("ingest", "cfa", str(cfa_file), env=env, timeout=60)
    assert result.returncode == 2
    assert the_line(result).endswith("cfa.csv: lecture impossible (permission refusée)")


def test_an_unreadable_path_is_refused_before_kafka(cfa_file, monkeypatch):
    # The same check as above, also where the tests run as root (who reads any file).
    import hub.cli.ingest as ingest_cli
    from connectors import get_connector
    from hub.errors import InputError

    monkeypatch.setattr(ingest_cli.os, "access", lambda *_: False)
    with pytest.raises(InputError, match=r"cfa\.csv: lecture impossible") as info:
        ingest_cli.check_path(get_connector("cfa"), cfa_file)
    assert info.value.exit_code == 2


# --- `hub serve`: an address it cannot listen on is one line, exit 2 -----------------------

def test_serve_on_a_port_taken_is_one_line(env):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_hub("serve", "--port", str(port), env=env, timeout=60)
    assert result.returncode == 2
    assert the_line(result) == f"hub: error: le port {port} est déjà pris sur 127.0.0.1 ; choisissez --port N"


@pytest.mark.parametrize("host", ["999.1.1.1", "pas une adresse"])
def test_serve_on_an_invalid_address_is_one_line(env, host):
    result = run_hub("serve", "--host", host, "--port", "8123", env=env, timeout=60)
    assert result.returncode == 2
    assert the_line(result).startswith(f"hub: error: adresse d'écoute invalide : {host!r}")


def test_no_broker_at_all_is_one_french_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HUB_KAFKA_BOOTSTRAP"}
    result = run_hub("topics", "list", env={**env, "HUB_HOME": str(tmp_path / "empty")}, timeout=60)
    assert result.returncode == 1
    assert the_line(result) == "hub: error: aucun Kafka : lancez `hub kafka start` ou donnez HUB_KAFKA_BOOTSTRAP"


def test_a_bad_as_of_says_what_is_expected_once(env):
    result = run_hub("ingest", "cfa", "x.csv", "--as-of", "hier", env=env, timeout=60)
    assert result.returncode == 2
    assert the_line(result).count("JJ/MM/AAAA ou AAAA-MM-JJ attendu") == 1


def test_an_account_password_without_a_terminal_is_refused_not_echoed(env):
    result = run_hub("accounts", "add", "obs-sans-tty", "--role", "observatoire", "--code", "OBS-86", "--no-check",
                     env=env, input="", timeout=60)
    assert result.returncode == 2
    assert the_line(result).endswith("donnez-le sur l'entrée standard avec --password-stdin")


# --- settings and folders: one line, not a traceback (found by a black-box audit) --------

@pytest.mark.parametrize(
    ("variables", "args", "expected"),
    [
        ({"HUB_KAFKA_PORT": "abc"}, ("kafka", "status"),
         "hub: error: configuration invalide : HUB_KAFKA_PORT : Input should be a valid integer"),
        ({"HUB_KAFKA_PORT": "99999"}, ("kafka", "start"),
         "hub: error: configuration invalide : HUB_KAFKA_PORT : Input should be less than or equal to 65535"),
        # Found by a black-box audit: a traceback, or Kafka's own error with exit 1.
        ({"HUB_LOG_LEVEL": "BOGUS"}, ("status",),
         "hub: error: configuration invalide : HUB_LOG_LEVEL : Input should be 'DEBUG', 'INFO'"),
        ({"HUB_LOG_FORMAT": "xml"}, ("status",),
         "hub: error: configuration invalide : HUB_LOG_FORMAT : Input should be 'auto', 'console' or 'json'"),
        ({"HUB_WORKER_ID": ""}, ("worker", "--until-idle"),
         "hub: error: configuration invalide : HUB_WORKER_ID : String should match pattern"),
        ({"HUB_WORKER_ID": "a b"}, ("worker", "--until-idle"),
         "hub: error: configuration invalide : HUB_WORKER_ID : String should match pattern"),
        ({"HUB_RULES__GRACE_DAYS": "-5"}, ("cases",),
         "hub: error: configuration invalide : HUB_RULES__GRACE_DAYS : Input should be greater than or equal to 0"),
        ({"HUB_RULES__RUPTURE_ALERT_DAYS": "200"}, ("cases",),
         "hub: error: configuration invalide : HUB_RULES : Value error, rupture_alert_days doit précéder"),
        ({"HUB_TOPIC_PARTITIONS": "0"}, ("topics", "apply"),
         "hub: error: configuration invalide : HUB_TOPIC_PARTITIONS : Input should be greater than or equal to 1"),
        ({"HUB_REPLICATION_FACTOR": "0"}, ("topics", "apply"),
         "hub: error: configuration invalide : HUB_REPLICATION_FACTOR : Input should be greater than or equal to 1"),
        ({"HUB_RULES__GRACE_DAYS": "x"}, ("cases",),
         "hub: error: configuration invalide : HUB_RULES__GRACE_DAYS : Input should be a valid integer"),
        ({"HUB_KAFKA_BOOTSTRAP": "127.0.0.1:abc"}, ("topics", "list"),
         "hub: error: configuration invalide : HUB_KAFKA_BOOTSTRAP : Value error, '127.0.0.1:abc' : host:port attendu"),
        ({"HUB_KAFKA_BOOTSTRAP": "garbage"}, ("topics", "list"),
         "hub: error: configuration invalide : HUB_KAFKA_BOOTSTRAP : Value error, 'garbage' : host:port attendu"),
        ({}, ("kafka", "start", "--data-dir", ""),
         "hub kafka start: error: Invalid value for --data-dir: chemin vide"),
    ],
)
def test_a_setting_or_option_refused_is_one_line_and_exit_2(env, variables, args, expected):
    result = run_hub(*args, env={**env, **variables}, timeout=60)
    assert result.returncode == 2
    assert the_line(result).startswith(expected)


@pytest.mark.parametrize("args", [("kafka", "status", "--help"), ("worker", "--help"), ("ingest", "--help"),
                                  ("kafka", "--help")])
@pytest.mark.parametrize("variables", [{"HUB_KAFKA_PORT": "abc"}, {"HUB_LOG_LEVEL": "BOGUS"},
                                       {"HUB_KAFKA_BOOTSTRAP": "garbage"}])
def test_help_does_not_depend_on_the_settings(env, variables, args):
    result = run_hub(*args, env={**env, **variables}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: hub ")


def test_a_folder_that_cannot_be_made_is_one_line(env, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    result = run_hub("kafka", "start", "--port", "19977", env={**env, "HUB_HOME": str(a_file)}, timeout=60)
    assert result.returncode == 1
    assert the_line(result) == f"hub: error: Not a directory : {a_file / 'kafka-data'}"
    result = run_hub("kafka", "start", "--data-dir", str(a_file), env=env, timeout=60)
    assert result.returncode == 2
    assert the_line(result) == f"hub kafka start: error: Invalid value for --data-dir: {a_file} est un fichier, pas un dossier"


def test_status_says_when_the_commands_use_another_broker(env):
    result = run_hub("kafka", "status", env=env, timeout=60)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        f"HUB_KAFKA_BOOTSTRAP est réglé : les autres commandes utilisent {UNREACHABLE}, pas ce Kafka embarqué")
