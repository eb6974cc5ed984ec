"""The connectors' Sink on Kafka: Avro events keyed by person, dead letters, watermarks."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from hub.avro.codec import Codec, get_codec
from hub.kafka import client
from hub.kafka.seen import EVENT_ID_HEADER
from hub.kafka.watermarks import advance_watermark
from hub.settings import Settings, get_settings

# Sends in flight before we wait for their acknowledgements: bounded memory, full batches.
MAX_IN_FLIGHT = 20000


class KafkaSink:
    def __init__(self, settings: Settings | None = None, codec: Codec | None = None) -> None:
        self.settings = settings or get_settings()
        self.codec = codec or get_codec()
        self._producer: AIOKafkaProducer | None = None
        self._pending: list[asyncio.Future] = []

    async def start(self) -> None:
        self._producer = client.producer(self.settings)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            try:
                await self.flush()
            finally:
                await self._producer.stop()
                self._producer = None

    async def __aenter__(self) -> KafkaSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def publish(self, topic: str, key: str, event: dict[str, Any]) -> None:
        value = self.codec.encode_event(event)
        headers = [(EVENT_ID_HEADER, event["event_id"].encode()), ("event_type", event["event_type"].encode())]
        await self._send(topic, value, key.encode(), headers)

    async def dead_letter(self, topic: str, record: dict[str, Any]) -> None:
        fields = {k: record.get(k) for k in ("source", "file", "position", "reason", "detail", "raw", "row", "received_at")}
        if isinstance(fields["received_at"], str):
            fields["received_at"] = datetime.fromisoformat(fields["received_at"])
        await self._send(topic, self.codec.encode("dead_letter", fields), None, [("reason", record["reason"].encode())])

    async def watermark(self, source: str, as_of: date) -> None:
        await self.flush()
        assert self._producer is not None
        await advance_watermark(self._producer, source, as_of, self.settings)

    async def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            await asyncio.gather(*pending)

    async def _send(self, topic: str, value: bytes, key: bytes | None, headers: list) -> None:
        assert self._producer is not None, "KafkaSink not started"
        self._pending.append(await self._producer.send(topic, value, key=key, headers=headers))
        if len(self._pending) >= MAX_IN_FLIGHT:
            await self.flush()
