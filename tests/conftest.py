"""Shared fixtures. Broker-backed tests get a real Kafka 4 started for the session.

The broker runs on a free port in a temporary folder, so it never collides with a
`hub kafka start` of the developer. It is started lazily: a run of the fast tests alone
never pays for it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hub.kafka.embedded import EmbeddedKafka, free_port
from hub.settings import Settings, get_settings

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def own_broker(tmp_path_factory, name: str, heap: str):
    """A real single-node Kafka (KRaft) on a free port in a fresh folder: yields its
    bootstrap, stops it on exit."""
    broker = EmbeddedKafka(tmp_path_factory.mktemp(name), Settings().jar_cache)
    info = broker.start(free_port(), heap=heap)
    try:
        yield info.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    """The broker of the whole session: yields its bootstrap.

    Keep its topics small: every `hub worker` run here (the web and demo tests) has a
    consumer group of its own and reads every source topic from the start, so a test
    that publishes tens of thousands of events here slows every such test after it (it
    did: 34 min of suite instead of 8). Such a test takes `fresh_hub_env`, a broker of
    its own; the modules of tests/worker each have one too (tests/worker/conftest.py)."""
    with own_broker(tmp_path_factory, "kafka", "768m") as bootstrap:
        yield bootstrap


@pytest.fixture
def hub_env(kafka_broker, tmp_path, monkeypatch):
    """Environment for code and `hub` subprocesses bound to the session broker.

    Each test gets its own HUB_HOME (connector state, accounts) and a fresh topic
    namespace is not needed: tests use unique identities or read their own offsets.
    """
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", kafka_broker)
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield dict(os.environ)
    get_settings.cache_clear()


@pytest.fixture
def fresh_hub_env(tmp_path_factory, tmp_path, monkeypatch):
    """Like hub_env, on a broker of its own that nothing touched yet: no topic, no
    `hub topics apply` (costs a broker start, ≈ 5 s)."""
    with own_broker(tmp_path_factory, "fresh-kafka", "512m") as bootstrap:
        monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", bootstrap)
        monkeypatch.setenv("HUB_HOME", str(tmp_path / "home"))
        get_settings.cache_clear()
        yield dict(os.environ)
        get_settings.cache_clear()


def hub_exe() -> str:
    """The `hub` command of this environment."""
    return shutil.which("hub", path=str(Path(sys.executable).parent)) or "hub"


def run_hub(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `hub` command line in a subprocess."""
    return subprocess.run([hub_exe(), *args], capture_output=True, text=True, env=env, input=input, timeout=timeout)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def settings(hub_env) -> Settings:
    return get_settings()
