"""KafkaSink when the broker stops answering: an error, never a silent wait."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from aiokafka.errors import KafkaTimeoutError

from hub.errors import BrokerError
from hub.kafka.sink import KafkaSink
from hub.settings import Settings


class _Batch:
    def __init__(self) -> None:
        self.records = 0

    def append(self, **_):
        self.records += 1
        return object()

    def record_count(self) -> int:
        return self.records

    def close(self) -> None:
        pass


class _GoneBroker:
    """A producer whose broker went away: nothing is ever acknowledged, and its stop
    waits for a queue that never drains."""

    _request_timeout_ms = 50

    def __init__(self, *, queue_full: bool = False) -> None:
        self.queue_full = queue_full
        self.stopped = False

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch, topic, partition):
        if self.queue_full:
            await asyncio.sleep(self._request_timeout_ms / 1000)
            raise KafkaTimeoutError()
        return asyncio.get_running_loop().create_future()

    async def stop(self) -> None:
        self.stopped = True
        await asyncio.Event().wait()


def _sink(producer: _GoneBroker) -> KafkaSink:
    sink = KafkaSink(Settings(kafka_bootstrap="127.0.0.1:1", kafka_ack_timeout=0.2))
    sink._producer = producer  # noqa: SLF001
    sink._partitions["t"] = [0]  # noqa: SLF001
    return sink


@pytest.mark.parametrize("queue_full", [False, True])
def test_a_broker_that_stops_acknowledging_is_an_error_and_the_sink_stops_anyway(queue_full, monkeypatch):
    monkeypatch.setattr("hub.kafka.sink.STOP_TIMEOUT", 0.2)
    producer = _GoneBroker(queue_full=queue_full)
    sink = _sink(producer)

    async def publish() -> None:
        async with sink:
            await sink._append_at("t", 0, b"k", b"v", [])  # noqa: SLF001
            await sink.flush()

    sink.start = _no_start  # the fake producer is already there
    raised: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(publish())
        except BaseException as exc:  # noqa: BLE001
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)  # a silent wait fails the test, not the suite
    began = time.monotonic()
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the sink waited in silence"
    assert time.monotonic() - began < 3
    assert len(raised) == 1 and isinstance(raised[0], BrokerError), raised
    assert "rien n'est perdu, relancez la même commande" in str(raised[0])
    assert producer.stopped


async def _no_start() -> None:
    pass
