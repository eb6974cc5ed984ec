"""`hub topics apply` creates every declared topic and is idempotent."""

from __future__ import annotations

import pytest

from hub.kafka import client
from hub.kafka.topics import CASES, DIRECTORY, WATERMARKS, compacted_topics, declared_topics, describe_topics
from hub.types.events import SOURCE_TOPICS
from tests.conftest import run_hub

pytestmark = pytest.mark.kafka

SPEC_TOPICS = {
    "rectorat.eleves.v1", "rectorat.absenteisme.v1", "missions-locales.jeunes.v1", "cfa.contrats.v1",
    "cti.signalements.v1", "suivi.actions.v1", "rectorat.eleves.v1.dlq", "hub.watermarks.v1",
    "hub.directory.v1", "hub.schemas.v1", "hub.identites.litiges.v1", "cases.v1",
    "observatoire.HORS_TERRITOIRE.cases.v1",
}


def test_declaration_covers_interfaces_md():
    names = {s.name for s in declared_topics()}
    assert SPEC_TOPICS <= names


def test_the_compacted_topics_are_the_state_topics_not_the_event_streams():
    """The engine's consumer lets offset holes pass on these only (hub/worker/transport.py)."""
    compacted = compacted_topics()
    assert {WATERMARKS, DIRECTORY, CASES} <= compacted
    assert not compacted & set(SOURCE_TOPICS.values())


async def test_apply_is_idempotent(hub_env):
    first = run_hub("topics", "apply", env=hub_env)
    assert first.returncode == 0, first.stderr
    second = run_hub("topics", "apply", env=hub_env)
    assert second.returncode == 0 and "0 créés, 0 mis à jour" in second.stdout
    admin = client.admin()
    await admin.start()
    try:
        described = await describe_topics(admin, [CASES, WATERMARKS, "rectorat.eleves.v1"])
    finally:
        await admin.close()
    assert described[CASES]["configs"]["cleanup.policy"] == "compact"
    assert described[WATERMARKS]["configs"]["cleanup.policy"] == "compact"
    assert described["rectorat.eleves.v1"]["configs"]["cleanup.policy"] == "delete"
    listing = run_hub("topics", "list", env=hub_env)
    assert "cases.v1" in listing.stdout and "cleanup=compact" in listing.stdout


async def test_list_shows_the_engines_own_topics(hub_env, unique):
    """`hub worker` creates them (declared with the others in hub/kafka/topics.py)."""
    from hub.kafka.topics import apply_topics, worker_topics
    from hub.settings import Settings

    env = {**hub_env, "HUB_WORKER_ID": f"hub-worker-{unique}"}
    engine = [s.name for s in worker_topics(Settings(worker_id=f"hub-worker-{unique}"), 3)]
    assert engine == [f"hub-worker-{unique}-engine-persons", f"hub-worker-{unique}-persons-changelog",
                      f"hub-worker-{unique}-clock-changelog"]
    lines = run_hub("topics", "list", env=env).stdout.splitlines()
    for name in engine:
        assert any(line.startswith(name) and line.endswith("absent (created by `hub worker`)") for line in lines)
    admin = client.admin()
    await admin.start()
    try:
        await apply_topics(admin, worker_topics(Settings(worker_id=f"hub-worker-{unique}"), 3), 1)
    finally:
        await admin.close()
    lines = run_hub("topics", "list", env=env).stdout.splitlines()
    assert any(line.startswith(engine[1]) and "partitions=3 cleanup=compact" in line for line in lines)
    assert any(line.startswith(engine[0]) and "partitions=3 cleanup=delete" in line for line in lines)


async def test_a_topic_kafka_refuses_is_an_error_not_a_creation(hub_env):
    # aiokafka's create_topics answers per-topic errors without raising.
    from hub.errors import BrokerError
    from hub.kafka.topics import TopicSpec, apply_topics

    admin = client.admin()
    await admin.start()
    try:
        with pytest.raises(BrokerError, match=r"topic observatoire\.OBS 86\.cases\.v1 refusé par Kafka"):
            await apply_topics(admin, [TopicSpec("observatoire.OBS 86.cases.v1", 1)], 1)
        assert "observatoire.OBS 86.cases.v1" not in set(await admin.list_topics())
    finally:
        await admin.close()
