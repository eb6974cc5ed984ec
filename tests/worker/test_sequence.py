"""Clock ticks and directory updates apply in the order they were written (sequence.py),
on the real broker, whether the worker ran meanwhile or not (rules.md §3: a restart
never changes a result; §6: an update re-routes the cases open when it comes)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import yaml

from hub.types.events import CLOCK_SOURCES
from tests.conftest import run_hub
from tests.worker import factory as f
from tests.worker.conftest import SAMPLE_DIRECTORY, base, cases, produce, run_worker, years_before

pytestmark = pytest.mark.kafka


def niort_to_obs86(folder) -> str:
    """The sample directory with département 79 given to OBS-86."""
    doc = yaml.safe_load(SAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    for obs in doc["observatoires"]:
        if obs["code"] == "OBS-79":
            obs["departements"] = []
        if obs["code"] == "OBS-86":
            obs["departements"] = [*obs["departements"], "79"]
    path = folder / "annuaire-79-86.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_watermarks_then_a_directory_update_written_while_the_worker_was_stopped(worker_env, tmp_path, unique):
    env = worker_env
    day = base(env)
    broken = day + timedelta(days=10)
    young = f.person(f"SEQ{unique}", dob=years_before(day, 19), ine=f.random_ine(), commune=f.NIORT)
    produce(env, [f.contrat_signe(young, day), f.contrat_rompu(young, broken, debut=day)],
            watermarks={s: broken + timedelta(days=170) for s in CLOCK_SOURCES})
    run_worker(env)
    (rupture,) = map(json.loads, cases(env, names=young["nom"]))
    assert (rupture["type"], rupture["status"], rupture["observatoire"]) == ("RUPTURE", "ALERTE", "OBS-79")

    # While the worker is stopped: the clock passes the 180 days (the rupture closes, the
    # exit rule takes over), then — written after — département 79 goes to OBS-86.
    produce(env, watermarks={s: broken + timedelta(days=190) for s in CLOCK_SOURCES})
    time.sleep(0.01)  # the update's timestamp after the watermarks'
    done = run_hub("directory", "load", niort_to_obs86(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    try:
        run_worker(env)
        found = {c["type"]: c for c in map(json.loads, cases(env, names=young["nom"])) if c["person"]}
    finally:
        done = run_hub("directory", "load", str(SAMPLE_DIRECTORY), env=env)
        assert done.returncode == 0, done.stderr
    # As a running worker has it: the rupture closed at D+180 in OBS-79, before the
    # update came, and stays there (applied at the former clock, the update found it
    # open and moved it, with a transfer dated D+170); the exit case, open when the
    # update came, is OBS-86's. (A running worker published it in OBS-79 first, then
    # moved it; a worker started after the update routes it with the directory it read
    # at start: no transfer.)
    rupture, handover = found["RUPTURE"], found["DECROCHAGE"]
    assert (rupture["status"], rupture["outcome"], rupture["observatoire"], rupture["transfers"]) == (
        "CLOS", "SANS_SOLUTION", "OBS-79", [])
    assert (handover["status"], handover["opened_on"], handover["observatoire"]) == (
        "OUVERT", (broken + timedelta(days=180)).isoformat(), "OBS-86")
