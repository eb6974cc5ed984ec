"""`hub worker --until-idle` and `hub cases` on the real broker.

Events are produced with the hub codec straight onto the source topics (as the
connectors' Kafka sink does), watermarks for the three clock sources move the clock, the
worker runs as a subprocess, and `hub cases --format jsonl` is checked line for line.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from hub.avro import get_codec
from hub.identity import case_id, name_digest, name_key
from hub.kafka.topics import CASES, LITIGES
from hub.settings import Settings
from hub.types.events import SOURCE_TOPICS
from tests.conftest import run_hub
from tests.worker import factory as f
from tests.worker.conftest import (
    base,
    case_lines,
    cases,
    clock_to,
    committed,
    end_offsets,
    kill9,
    produce,
    read_since,
    run_worker,
    start_worker,
    years_before,
)

pytestmark = pytest.mark.kafka
D = timedelta(days=1)


def line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False)


def person_out(p: dict, ine: str | None = None) -> dict:
    return {"ine": ine, "nom": p["nom"], "prenom": p["prenom"], "date_naissance": p["date_naissance"].isoformat(),
            "commune_residence": p["commune_residence"]}


def evidence(*events: dict) -> list[dict]:
    return [{"event_type": e["event_type"], "event_date": e["event_date"].isoformat(), "source": e["source"],
             "source_ref": e["source_ref"]} for e in events]


def test_exit_opens_obligation_formation_after_the_grace_then_a_solution_resolves(worker_env, unique):
    env = worker_env
    b = base(env)
    nom, ine = f"SORTIE{unique.upper()}", f.random_ine()
    p = f.person(nom, dob=years_before(b, 17), ine=ine, commune=f.POITIERS)
    inscrit, sorti = f.eleve_inscrit(p, b - 200 * D), f.eleve_sorti(p, b + 10 * D, motif="05")
    produce(env, [inscrit, sorti], watermarks={"rectorat": b + 20 * D, "mission-locale": b + 20 * D,
                                               "cfa": b + 20 * D})
    run_worker(env)
    assert cases(env, names=nom) == []  # the grace has not passed

    clock_to(env, b + 45 * D)
    run_worker(env)
    opened = {
        "case_id": case_id(ine, "OBLIGATION_FORMATION", b + 40 * D),
        "type": "OBLIGATION_FORMATION",
        "status": "OUVERT",
        "outcome": None,
        "observatoire": "OBS-86",
        "assigned_to": {"role": "MISSION_LOCALE", "code": "ML-86-POI"},
        "person": person_out(p, ine),
        "opened_on": (b + 40 * D).isoformat(),
        "alerted_on": None,
        "closed_on": None,
        "periode_essai": None,
        "evidence": evidence(sorti),
        "transfers": [],
    }
    assert cases(env, names=nom) == [line(opened)]
    assert cases(env, "--observatoire", "OBS-86", names=nom) == [line(opened)]
    assert cases(env, "--observatoire", "obs-86", names=nom) == [line(opened)]  # codes in any case
    assert cases(env, "--status", "OUVERT", names=nom) == [line(opened)]

    # An accompaniment recorded by the Mission locale, without INE: linked by name key.
    accompagnement = f.jeune_ml(f.with_(p, ine=None), b + 50 * D, "ENTREE_ACCOMPAGNEMENT", dispositif="CEJ")
    produce(env, [accompagnement])
    run_worker(env)
    resolved = {**opened, "status": "RESOLU", "outcome": "ACCOMPAGNEMENT_ML", "closed_on": (b + 50 * D).isoformat(),
                "evidence": evidence(sorti, accompagnement)}
    assert cases(env, names=nom) == [line(resolved)]
    assert cases(env, "--status", "OUVERT", names=nom) == []
    assert cases(env, "--status", "RESOLU", "--observatoire", "OBS-86", names=nom) == [line(resolved)]


def test_homonyms_put_an_ine_less_record_in_dispute(worker_env, unique):
    env = worker_env
    b = base(env)
    nom = f"HOMONYME{unique.upper()}"
    dob = years_before(b, 18)
    ine1, ine2 = sorted([f.random_ine(), f.random_ine()])
    one, two = f.person(nom, dob=dob, ine=ine1), f.person(nom, dob=dob, ine=ine2)
    rupture = f.contrat_rompu(f.person(nom, dob=dob), b + 5 * D, debut=b - 100 * D)
    start = end_offsets(env, LITIGES)
    produce(env, [f.jeune_ml(one, b - 300 * D, "PREMIER_ACCUEIL", milo="A"),
                  f.jeune_ml(two, b - 300 * D, "PREMIER_ACCUEIL", milo="B"), rupture],
            watermarks={s: b + 30 * D for s in ("rectorat", "mission-locale", "cfa")})
    run_worker(env)

    digest = name_digest(name_key(nom, "Élodie", dob), Settings().pseudonym_secret)
    # A new worker id reads every topic from the start: other tests' litiges come again.
    litiges = read_since(env, LITIGES, start)
    assert digest in litiges
    record = get_codec().decode(litiges[digest])
    assert record["candidates"] == [ine1, ine2]
    assert record["event_id"] == rupture["event_id"]
    assert get_codec().decode(record["event"]) == rupture
    assert cases(env, names=nom) == []  # a record in dispute takes part in no case


def test_an_ine_less_rupture_is_linked_to_the_single_ine(worker_env, unique):
    env = worker_env
    b = base(env)
    nom, ine = f"LIEN{unique.upper()}", f.random_ine()
    p = f.person(nom, dob=years_before(b, 19), ine=ine, commune=f.POITIERS)
    rupture = f.contrat_rompu(f.with_(p, ine=None, commune=None), b + 5 * D, debut=b - 10 * D, uai_cfa=f.CFA_86)
    produce(env, [rupture, f.jeune_ml(p, b - 100 * D, "PREMIER_ACCUEIL")],
            watermarks={s: b + 20 * D for s in ("rectorat", "mission-locale", "cfa")})
    run_worker(env)
    expected = {
        "case_id": case_id(ine, "RUPTURE", b + 5 * D),
        "type": "RUPTURE",
        "status": "OUVERT",
        "outcome": None,
        "observatoire": "OBS-86",
        "assigned_to": {"role": "CTI_REGION", "code": "CTI-R-86-01"},
        "person": person_out(p, ine),
        "opened_on": (b + 5 * D).isoformat(),
        "alerted_on": None,
        "closed_on": None,
        "periode_essai": True,
        "evidence": evidence(rupture),
        "transfers": [],
    }
    assert cases(env, names=nom) == [line(expected)]


def test_a_move_transfers_the_case_and_the_old_observatory_gets_transfere(worker_env, unique):
    env = worker_env
    b = base(env)
    nom, ine = f"DEMENAGE{unique.upper()}", f.random_ine()
    p = f.person(nom, dob=years_before(b, 19), ine=ine, commune=f.POITIERS)
    sorti = f.eleve_sorti(p, b + 5 * D, motif="09")
    produce(env, [sorti], watermarks={s: b + 40 * D for s in ("rectorat", "mission-locale", "cfa")})
    run_worker(env)
    cid = case_id(ine, "DECROCHAGE", b + 35 * D)
    opened = {
        "case_id": cid, "type": "DECROCHAGE", "status": "OUVERT", "outcome": None, "observatoire": "OBS-86",
        "assigned_to": {"role": "MISSION_LOCALE", "code": "ML-86-POI"}, "person": person_out(p, ine),
        "opened_on": (b + 35 * D).isoformat(), "alerted_on": None, "closed_on": None, "periode_essai": None,
        "evidence": evidence(sorti), "transfers": [],
    }
    assert case_lines(env, [cid]) == [line(opened)]

    moved_to = f.with_(p, commune=f.LA_ROCHELLE)
    accueil = f.jeune_ml(moved_to, b + 45 * D, "PREMIER_ACCUEIL", code_ml="ML-17-LRO")
    # A counsellor's action, keyed by case id on suivi.actions.v1: evidence, no move.
    entretien = f.action(p, b + 46 * D, cid, "ENTRETIEN_REALISE", auteur="ML-17-LRO")
    produce(env, [accueil, entretien])
    run_worker(env)
    transfers = [{"date": (b + 45 * D).isoformat(), "from_observatoire": "OBS-86", "to_observatoire": "OBS-17",
                  "reason": "DEMENAGEMENT"}]
    moved = {**opened, "observatoire": "OBS-17", "assigned_to": {"role": "MISSION_LOCALE", "code": "ML-17-LRO"},
             "person": person_out(moved_to, ine), "evidence": evidence(sorti, accueil, entretien),
             "transfers": transfers}
    transfere = {
        "case_id": cid, "type": "DECROCHAGE", "status": "TRANSFERE", "outcome": None, "observatoire": "OBS-86",
        "assigned_to": {"role": "OBSERVATOIRE", "code": "OBS-86"}, "person": None,
        "opened_on": (b + 35 * D).isoformat(), "alerted_on": None, "closed_on": (b + 45 * D).isoformat(),
        "periode_essai": None, "evidence": [], "transfers": transfers,
    }
    assert case_lines(env, [cid]) == [line(moved)]  # the operator's view: no TRANSFERE
    assert case_lines(env, [cid], "--observatoire", "OBS-17") == [line(moved)]
    assert case_lines(env, [cid], "--observatoire", "OBS-86") == [line(transfere)]
    assert case_lines(env, [cid], "--observatoire", "OBS-86", "--status", "TRANSFERE") == [line(transfere)]
    assert case_lines(env, [cid], "--status", "TRANSFERE") == []


def test_running_again_is_harmless_and_a_new_engine_agrees(worker_env, unique):
    env = worker_env
    b = base(env)
    tag = f"RESTART{unique.upper()}"
    produce(env, f.bulk(60, tag, b), watermarks={s: b + 150 * D for s in ("rectorat", "mission-locale", "cfa")})
    run_worker(env)
    first = cases(env, names=tag)
    assert len(first) > 20
    assert len({json.loads(x)["case_id"] for x in first}) == len(first)
    ends = end_offsets(env, CASES)
    run_worker(env)  # same engine: nothing new to do, nothing published again
    assert end_offsets(env, CASES) == ends
    assert cases(env, names=tag) == first
    fresh = {**env, "HUB_WORKER_ID": env["HUB_WORKER_ID"] + "-bis"}
    run_worker(fresh)  # a new engine rebuilding everything from the topics
    assert cases(env, names=tag) == first


def test_unknown_observatory_is_a_usage_error(prepared):
    done = run_hub("cases", "--observatoire", "OBS-NOPE", env=prepared)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1 and "OBS-NOPE" in done.stderr


PERSON_TOPICS = [t for s, t in SOURCE_TOPICS.items() if s != "suivi"]


def test_sigterm_in_the_middle_of_batches_then_restart_gives_the_same_cases(worker_env, unique):
    """A clean stop (SIGTERM) cancels the batch in hand, and Faust acknowledges a
    `take_events` batch even when its processing was interrupted: committed on the way
    out, its records were lost (a black-box audit: members of a group stopped and started
    while input flowed lost hundreds of cases). The engine never acknowledges an
    interrupted batch (`forget` in hub/worker/app.py). Stopped three times in the middle of its work,
    the engine ends with the cases of an undisturbed run."""
    import signal

    env = worker_env
    b = base(env)
    tag = f"TERM{unique.upper()}"
    events = f.bulk(5000, tag, b, seed=13)
    produce(env, events, watermarks={s: b + 200 * D for s in ("rectorat", "mission-locale", "cfa")})

    start = end_offsets(env, CASES)
    run_worker({**env, "HUB_WORKER_ID": env["HUB_WORKER_ID"] + "-ref"})
    reference = read_since(env, CASES, start)

    start = end_offsets(env, CASES)
    source_end = sum(sum(end_offsets(env, t).values()) for t in PERSON_TOPICS)
    group = env["HUB_WORKER_ID"]
    stops = 0
    for round_ in range(3):
        proc = start_worker(env)
        before = committed(env, group, PERSON_TOPICS)
        deadline = time.monotonic() + 120
        try:
            while committed(env, group, PERSON_TOPICS) <= before and committed(env, group, PERSON_TOPICS) < source_end:
                assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the worker made no progress"
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        stops += committed(env, group, PERSON_TOPICS) < source_end
    assert stops, "stopped too late: the work was done"
    run_worker(env)
    restarted = read_since(env, CASES, start)
    mine = {k for k, v in reference.items() if v is not None}
    assert len(mine) > 300
    assert {k: v for k, v in restarted.items() if k in mine or v is not None} == {
        k: v for k, v in reference.items() if k in mine or v is not None
    }


def test_kill_9_in_the_middle_of_a_batch_then_restart_gives_the_same_cases(worker_env, unique):
    env = worker_env
    b = base(env)
    tag = f"KILL{unique.upper()}"
    events = f.bulk(5000, tag, b, seed=11)  # several commit intervals of work: the kill lands inside
    produce(env, events, watermarks={s: b + 200 * D for s in ("rectorat", "mission-locale", "cfa")})

    # The reference: an engine that runs undisturbed.
    start = end_offsets(env, CASES)
    reference_env = {**env, "HUB_WORKER_ID": env["HUB_WORKER_ID"] + "-ref"}
    elapsed = run_worker(reference_env)
    reference = {k: v for k, v in read_since(env, CASES, start).items()}

    # Another engine, killed -9 while it works through the batch, then restarted.
    start = end_offsets(env, CASES)
    source_end = sum(sum(end_offsets(env, t).values()) for t in PERSON_TOPICS)
    t_kill = time.monotonic()
    proc = start_worker(env)
    group = env["HUB_WORKER_ID"]
    deadline = time.monotonic() + 120
    try:
        while True:
            done = committed(env, group, PERSON_TOPICS)
            if done > source_end - len(events):  # a first commit inside the batch
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the worker did not get into the batch"
            time.sleep(0.1)
    finally:
        kill9(proc)
    assert committed(env, group, PERSON_TOPICS) < source_end, "killed too late: the batch was done"
    t_killed = time.monotonic()
    again = run_worker(env)
    restarted = read_since(env, CASES, start)
    print(f"killed after {t_killed - t_kill:.1f}s, restart took {again:.1f}s")

    mine = {k for k, v in reference.items() if v is not None}
    assert len(mine) > 300
    assert {k: v for k, v in restarted.items() if k in mine or v is not None} == {
        k: v for k, v in reference.items() if k in mine or v is not None
    }
    print(f"reference run: {len(events)} events in {elapsed:.1f}s")
