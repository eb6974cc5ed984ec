"""`hub dlq list SOURCE` / `hub dlq replay SOURCE`: the rejected records of a source."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from typing import Any

import click
from aiokafka import TopicPartition

from connectors import SOURCES, Accepted, Filtered, check_record, get_connector, make_context
from connectors.core.types import REPLAY_AS_OF
from hub.avro.codec import CodecError, get_codec
from hub.cli.common import run_async
from hub.directory_feed import read_directory
from hub.kafka import client
from hub.kafka.compacted import read_until_end
from hub.kafka.seen import KafkaSeenEvents
from hub.kafka.sink import KafkaSink
from hub.kafka.topics import ensure_topics
from hub.settings import get_settings


@click.group()
def dlq() -> None:
    """Inspect and replay the records a connector rejected."""


@dlq.command(name="list")
@click.argument("source", type=click.Choice(SOURCES))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rejected record.")
@run_async
async def list_(source: str, as_json: bool) -> None:
    """Every rejected record of SOURCE: file, position, reason and detail."""
    connector = get_connector(source)
    codec = get_codec()
    count = 0
    async for record in read_until_end(connector.dlq_topic):
        try:
            letter = codec.decode(record.value)
        except CodecError as exc:
            click.echo(f"offset {record.offset}: illisible ({exc})", err=True)
            continue
        count += 1
        if as_json:
            letter["received_at"] = letter["received_at"].isoformat()
            click.echo(json.dumps({"offset": record.offset, **letter}, ensure_ascii=False))
        else:
            click.echo(f"{letter['file']}  {letter['position']:<12} {letter['reason']:<14} {letter['detail'] or ''}")
    if not as_json:
        click.echo(f"{count} enregistrement(s) rejeté(s) sur {connector.dlq_topic}")


@dlq.command()
@click.argument("source", type=click.Choice(SOURCES))
@run_async
async def replay(source: str) -> None:
    """Validate SOURCE's rejected records again (e.g. after a directory fix) and publish
    those that now pass. Each dead letter is replayed once: the position is kept in the
    consumer group `hub-dlq-replay.<source>`; a record still invalid goes back to the
    dead-letter topic with its current reason. A record is checked against the as-of of
    the ingest it came from (FUTURE_DATE stays FUTURE_DATE)."""
    settings = get_settings()
    connector = get_connector(source)
    await ensure_topics(settings)  # the schemas of what is published, on hub.schemas.v1
    directory = await read_directory(settings) if connector.needs_directory else None
    ctx = make_context(connector, directory=directory, settings=settings)
    seen = KafkaSeenEvents(settings)
    await seen.load([connector.topic])
    codec = get_codec()
    consumer = client.consumer(settings=settings, group_id=f"hub-dlq-replay.{source}")
    await consumer.start()
    counts = {"replayed": 0, "published": 0, "unchanged": 0, "filtered": 0, "rejected": 0, "unreadable": 0}
    try:
        tps = [TopicPartition(connector.dlq_topic, p) for p in await client.topic_partitions(consumer, connector.dlq_topic)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        async with KafkaSink(settings) as sink:
            for tp in tps:
                committed = await consumer.committed(tp)
                if committed is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, committed)
                while await consumer.position(tp) < ends[tp]:
                    batch = await consumer.getmany(tp, timeout_ms=1000)
                    for record in batch.get(tp, []):
                        if record.offset >= ends[tp]:
                            break
                        await _replay_one(record.value, connector, ctx, codec, sink, seen, counts)
                await sink.flush()
                await consumer.commit({tp: ends[tp]})
    finally:
        await client.stop_consumer(consumer)
    click.echo(
        f"{source} : {counts['replayed']} rejoués, {counts['published']} publiés, {counts['unchanged']} inchangés, "
        f"{counts['filtered']} filtrés, {counts['rejected']} rejetés à nouveau"
        + (f", {counts['unreadable']} illisibles" if counts["unreadable"] else "")
    )


async def _replay_one(value, connector, ctx, codec, sink, seen, counts) -> None:
    try:
        letter = codec.decode(value)
    except CodecError:
        counts["unreadable"] += 1
        return
    counts["replayed"] += 1
    row, as_of = replay_input(letter, connector.source)
    if not isinstance(row, dict):
        # Nothing to validate again (a line that could not even be split): back to the DLQ.
        counts["rejected"] += 1
        await sink.dead_letter(connector.dlq_topic, {**letter, "received_at": datetime.now(UTC)})
        return
    ref = f"{letter['file']}:{letter['position'].removeprefix('line ')}"
    if as_of is not None:
        ctx = dataclasses.replace(ctx, as_of=as_of)
    verdict = check_record(connector, row, ctx, ref=ref)
    if isinstance(verdict, Accepted):
        new = 0
        for key, event in verdict.events:
            if not seen.contains(event["event_id"]):
                await sink.publish(connector.topic, key, event)
                seen.add(event["event_id"])
                new += 1
        counts["published" if new else "unchanged"] += 1
    elif isinstance(verdict, Filtered):
        counts["filtered"] += 1
    else:
        counts["rejected"] += 1
        await sink.dead_letter(connector.dlq_topic, {
            **letter, "reason": verdict.reason, "detail": verdict.detail, "received_at": datetime.now(UTC)})


def replay_input(letter: dict[str, Any], source: str) -> tuple[dict[str, Any] | None, date | None]:
    """The record a dead letter asks to validate again, and the as-of its ingest checked
    it against (connectors.core.types.REPLAY_AS_OF, kept in the row with what else the
    record needs, e.g. a SIECLE pupil's UAJ). A letter from an older version has none:
    no FUTURE_DATE check, as then. A CTI report, not a flat map, is read from `raw`."""
    row = letter.get("row")
    as_of = None
    if isinstance(row, dict):
        row = dict(row)
        text = row.pop(REPLAY_AS_OF, None)
        try:
            as_of = date.fromisoformat(text) if text else None
        except ValueError:
            as_of = None
        row = row or None  # only the as-of: the record itself could not be split
    if row is None and source == "cti":
        try:
            row = json.loads(letter["raw"])
        except ValueError:
            row = None
    return row, as_of
