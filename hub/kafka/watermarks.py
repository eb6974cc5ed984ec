"""Source watermarks on `hub.watermarks.v1` (key = source): they only move forward."""

from __future__ import annotations

from datetime import UTC, date, datetime

from aiokafka import AIOKafkaProducer

from hub.avro.codec import CodecError, get_codec
from hub.kafka.compacted import read_table
from hub.kafka.topics import WATERMARKS
from hub.settings import Settings
from hub.types.events import CLOCK_SOURCES


async def read_watermarks(settings: Settings | None = None) -> dict[str, date]:
    codec = get_codec()
    marks: dict[str, date] = {}
    for key, value in (await read_table(WATERMARKS, settings)).items():
        try:
            record = codec.decode(value)
        except CodecError:
            continue  # unreadable record: not ours to interpret
        source = key.decode()
        marks[source] = max(marks.get(source, record["as_of"]), record["as_of"])
    return marks


def clock_of(marks: dict[str, date]) -> date | None:
    """The hub's clock: the minimum of the clock sources' watermarks, once all reported."""
    if not all(s in marks for s in CLOCK_SOURCES):
        return None
    return min(marks[s] for s in CLOCK_SOURCES)


async def advance_watermark(producer: AIOKafkaProducer, source: str, as_of: date,
                            settings: Settings | None = None) -> date:
    """Publish `as_of` for `source` unless an equal or later one is already there.

    Returns the source's watermark after the call. An older file still publishes its
    events but never moves the watermark back (inputs.md).
    """
    current = (await read_watermarks(settings)).get(source)
    if current is not None and current >= as_of:
        return current
    record = {"source": source, "as_of": as_of, "published_at": datetime.now(UTC)}
    await producer.send_and_wait(WATERMARKS, get_codec().encode("watermark", record), key=source.encode())
    return as_of
