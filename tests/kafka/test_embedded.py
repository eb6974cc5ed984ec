"""The embedded broker is a real Apache Kafka 4.x that keeps its data across restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

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

        # Stopped, `start` alone restarts the same broker: its port, its data, and says
        # so when HUB_KAFKA_PORT asks for another one.
        assert run_hub("kafka", "stop", env=env).returncode == 0
        restarted = run_hub("kafka", "start", env={**env, "HUB_KAFKA_PORT": "19093"})
        assert restarted.returncode == 0 and bootstrap in restarted.stdout, restarted.stderr
        assert restarted.stderr.startswith(f"HUB_KAFKA_PORT=19093 ignoré : le Kafka de ce HUB_HOME garde son port {port}")
        assert (tmp_path / "home" / "kafka.json").read_text() == record
        assert await _consume_all(bootstrap, "persist.test") == [b"survives"]

        # Paused (SIGSTOP: its port still accepts connections): not "running"; `stop`
        # wakes it to stop it cleanly.
        pid = json.loads(run_hub("kafka", "status", "--json", env=env).stdout)["pid"]
        os.kill(pid, signal.SIGSTOP)
        paused = run_hub("kafka", "status", env=env)
        assert paused.returncode == 1 and paused.stdout.startswith(f"Kafka en pause (processus {pid} suspendu")
        stop = run_hub("kafka", "stop", env=env)
        assert stop.returncode == 0 and stop.stdout.strip() == "Kafka arrêté"
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


# -- which process `stop` may signal -----------------------------------------------------


def _process(tmp_path, *argv: str, ignore_term: bool = False) -> subprocess.Popen:
    """A process that is not a broker, or that looks like one (`argv`)."""
    code = "import signal, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "time.sleep(120)\n"
    return subprocess.Popen([sys.executable, "-c", code, *argv])


def _record(broker: EmbeddedKafka, pid: int) -> None:
    broker.data_dir.mkdir(parents=True, exist_ok=True)
    broker.state_path.write_text(json.dumps({"bootstrap": "127.0.0.1:1", "controller_port": 2, "pid": pid,
                                             "data_dir": str(broker.data_dir), "version": "4.1.1"}))


def test_stop_never_signals_a_process_that_is_not_its_broker(tmp_path):
    """After a crash or a reboot the recorded pid may be anyone's (found by an audit:
    `hub kafka stop` killed it)."""
    broker = EmbeddedKafka(tmp_path / "data", Settings().jar_cache)
    other = _process(tmp_path)
    try:
        _record(broker, other.pid)
        assert broker.stop(timeout=1) is None
        time.sleep(0.2)
        assert other.poll() is None  # still alive
    finally:
        other.kill()
        other.wait()


def test_stop_kills_a_broker_that_does_not_stop_and_says_so(tmp_path):
    broker = EmbeddedKafka(tmp_path / "data", Settings().jar_cache)
    stubborn = _process(tmp_path, "kafka.Kafka", str(broker.config_path), ignore_term=True)
    try:
        time.sleep(0.3)  # the SIGTERM handler is in place
        _record(broker, stubborn.pid)
        assert broker.stop(timeout=1) == "killed"
        assert stubborn.wait(timeout=5) == -signal.SIGKILL
    finally:
        stubborn.kill()
        stubborn.wait()


def test_two_starts_at_once_give_one_broker_that_stop_stops(tmp_path):
    """They took turns on nothing: both launched a broker, the second's died on its
    controller port while the first answered its checks, and the record named the dead
    one — status said stopped, stop did nothing, the live broker was an orphan."""
    env = dict(os.environ, HUB_HOME=str(tmp_path / "home"), HUB_KAFKA_PORT=str(free_port()))
    env.pop("HUB_KAFKA_BOOTSTRAP", None)
    from tests.conftest import hub_exe

    starts = [subprocess.Popen([hub_exe(), "kafka", "start"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        assert [p.wait(timeout=180) for p in starts] == [0, 0], [p.stderr.read() for p in starts]
        status = run_hub("kafka", "status", "--json", env=env)
        assert status.returncode == 0 and json.loads(status.stdout)["running"]
        pid = json.loads(status.stdout)["pid"]
    finally:
        stop = run_hub("kafka", "stop", env=env)
    assert stop.returncode == 0 and stop.stdout.strip() == "Kafka arrêté"
    config = str(tmp_path / "home" / "kafka-data" / "server.properties")
    left = subprocess.run(["pgrep", "-f", config], capture_output=True, text=True).stdout.split()
    assert left == [], f"brokers left running on {config}: {left} (the recorded one was {pid})"
