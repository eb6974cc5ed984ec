"""The embedded broker is a real Apache Kafka 4.x that keeps its data across restarts."""

from __future__ import annotations

import json
import os

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import NewTopic

from hub.errors import BrokerError
from hub.kafka.embedded import EmbeddedKafka, free_port, resolve_jars
from hub.settings import Settings
from tests.conftest import run_hub

pytestmark = pytest.mark.kafka


async def _produce_and_consume(bootstrap: str, topic: str, payload: bytes) -> list[bytes]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, payload, key=b"k")
    finally:
        await producer.stop()
    return await _consume_all(bootstrap, topic)


async def _consume_all(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10000)
        return [m.value for msgs in batches.values() for m in msgs]
    finally:
        await consumer.stop()


async def test_cli_start_status_stop_restart_keeps_data(tmp_path):
    """`hub kafka start/status/stop` on one data dir; a record survives the restart."""
    env = dict(os.environ, HUB_HOME=str(tmp_path / "home"))
    env.pop("HUB_KAFKA_BOOTSTRAP", None)
    data_dir = tmp_path / "data"
    port = free_port()
    start = run_hub("kafka", "start", "--port", str(port), "--data-dir", str(data_dir), env=env)
    assert start.returncode == 0, start.stderr
    try:
        status = run_hub("kafka", "status", "--data-dir", str(data_dir), "--json", env=env)
        state = json.loads(status.stdout)
        assert status.returncode == 0 and state["running"]
        assert state["kafka_version"].startswith("4.")
        assert state["bootstrap"] == f"127.0.0.1:{port}"

        bootstrap = state["bootstrap"]
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("persist.test", 1, 1)])
        await admin.close()
        assert await _produce_and_consume(bootstrap, "persist.test", b"survives") == [b"survives"]

        assert run_hub("kafka", "stop", "--data-dir", str(data_dir), env=env).returncode == 0
        stopped = run_hub("kafka", "status", "--data-dir", str(data_dir), env=env)
        assert stopped.returncode == 1 and "arrêté" in stopped.stdout

        again = run_hub("kafka", "start", "--port", str(port), "--data-dir", str(data_dir), env=env)
        assert again.returncode == 0, again.stderr
        assert await _consume_all(bootstrap, "persist.test") == [b"survives"]

        # One broker per HUB_HOME: `start` again finds it; another one is refused, and
        # the record every command reads still names the first.
        record = (tmp_path / "home" / "kafka.json").read_text()
        plain = run_hub("kafka", "start", env=env)
        assert plain.returncode == 0 and "déjà en marche" in plain.stdout and bootstrap in plain.stdout
        other = run_hub("kafka", "start", "--port", str(free_port()), "--data-dir", str(tmp_path / "other"), env=env)
        assert other.returncode == 2 and "tourne déjà" in other.stderr and len(other.stderr.splitlines()) == 1
        assert (tmp_path / "home" / "kafka.json").read_text() == record
        assert not (tmp_path / "other").exists()

        # Stopped, `start` alone restarts the same broker: its port, its data.
        assert run_hub("kafka", "stop", env=env).returncode == 0
        restarted = run_hub("kafka", "start", env=env)
        assert restarted.returncode == 0 and bootstrap in restarted.stdout, restarted.stderr
        assert (tmp_path / "home" / "kafka.json").read_text() == record
        assert await _consume_all(bootstrap, "persist.test") == [b"survives"]
    finally:
        run_hub("kafka", "stop", "--data-dir", str(data_dir), env=env)


async def test_session_broker_roundtrip(kafka_broker):
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker)
    await admin.start()
    await admin.create_topics([NewTopic("roundtrip.test", 1, 1)])
    await admin.close()
    assert await _produce_and_consume(kafka_broker, "roundtrip.test", b"hello") == [b"hello"]


def test_port_in_use_is_a_clear_error(kafka_broker, tmp_path):
    port = int(kafka_broker.rsplit(":", 1)[1])
    broker = EmbeddedKafka(tmp_path / "other", Settings().jar_cache)
    with pytest.raises(BrokerError, match="déjà pris"):
        broker.start(port)


def test_missing_java_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn on the path
    broker = EmbeddedKafka(tmp_path / "d", tmp_path / "home")
    with pytest.raises(BrokerError, match="java not found"):
        broker.start(free_port())


def test_missing_maven_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match="mvn not found"):
        resolve_jars(tmp_path / "empty-home")
