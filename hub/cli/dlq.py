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
from hub.kafka.topics import ensure_topics, learn_schemas
from hub.locks import source_lock
from hub.logging import get_logger
from hub.settings import DEFAULT_PSEUDONYM_SECRET, DEFAULT_SECRET_WARNING, Settings, get_settings


@click.group()
def dlq() -> None:
    """Inspect and replay the records a connector rejected."""


def letter_identity(letter: dict[str, Any]) -> tuple[str, str, str]:
    """What makes two dead letters the same rejected record: a re-ingest of a file, or a
    replay that still fails, writes the record again."""
    return (letter["file"], letter["position"], letter["raw"])


def published_since(letter: dict[str, Any], connector, ctx, seen) -> bool:
    """Whether a dead letter's record is on the source topic now: a later ingest of the
    same record (with a later as-of, or after a directory fix) published it. Its record is
    checked again without the as-of it was refused against, and every event it gives
    is already there. Such a letter awaits nothing."""
    row, _ = replay_input(letter, connector.source)
    if not isinstance(row, dict):
        return False
    verdict = check_record(connector, row, dataclasses.replace(ctx, as_of=None), ref="dlq")
    return (isinstance(verdict, Accepted) and bool(verdict.events)
            and all(seen.contains(event["event_id"]) for _, event in verdict.events))


async def _replayed_up_to(settings, topic: str) -> dict[int, int]:
    """Per partition of `topic`, the offset `hub dlq replay` has replayed up to (the
    committed offset of its group; nothing is committed here)."""
    source = topic.removesuffix(".dlq")
    group = next((f"hub-dlq-replay.{s}" for s in SOURCES if get_connector(s).topic == source), None)
    consumer = client.consumer(settings=settings, group_id=group)
    await client.started(consumer)
    try:
        tps = [TopicPartition(topic, p) for p in await client.topic_partitions(consumer, topic)]
        return {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
    finally:
        await client.stop_consumer(consumer)


@dlq.command(name="list")
@click.argument("source", type=click.Choice(SOURCES))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rejected record.")
@click.option("--all", "history", is_flag=True,
              help="Every dead letter ever written, replayed ones and repeats included.")
@run_async
async def list_(source: str, as_json: bool, history: bool) -> None:
    """The rejected records of SOURCE still awaiting a fix: file, position, reason and
    detail. Each record once, with its latest reason (a re-ingest or a failed replay
    writes it again); a record published since, as it stands (by `hub dlq replay`, or by
    a later ingest of the same record: with a later as-of, after a directory fix), is no
    longer listed. A corrected record (a fixed date, say) does not retire the letter:
    nothing ties a wrong record to its correction."""
    settings = get_settings()
    connector = get_connector(source)
    codec = get_codec()
    await learn_schemas(codec, settings)  # dead letters of a newer connector (Codec.learn)
    replayed = {} if history else await _replayed_up_to(settings, connector.dlq_topic)
    letters: dict[Any, tuple[tuple, dict[str, Any]]] = {}
    async for record in read_until_end(connector.dlq_topic, settings):
        if record.offset < replayed.get(record.partition, 0):
            continue  # replayed: published since, or written again after that offset
        try:
            letter = codec.decode(record.value)
        except CodecError as exc:
            click.echo(f"offset {record.offset}: illisible ({exc})", err=True)
            continue
        letter = {"offset": record.offset, **letter}
        order = (letter["received_at"], record.partition, record.offset)
        key = (record.partition, record.offset) if history else letter_identity(letter)
        if key not in letters or letters[key][0] < order:
            letters[key] = (order, letter)
    shown = [letter for _, letter in sorted(letters.values(), key=lambda x: x[0])]
    if shown and not history:
        directory = await read_directory(settings) if connector.needs_directory else None
        ctx = make_context(connector, directory=directory, settings=settings)
        seen = KafkaSeenEvents(settings)
        await seen.load([connector.topic])
        try:
            shown = [letter for letter in shown if not published_since(letter, connector, ctx, seen)]
        finally:
            seen.close()
    for letter in shown:
        if as_json:
            letter["received_at"] = letter["received_at"].isoformat()
            click.echo(json.dumps(letter, ensure_ascii=False))
        else:
            click.echo(f"{letter['file']}  {letter['position']:<12} {letter['reason']:<14} {letter['detail'] or ''}")
    if not as_json:
        click.echo(f"{len(shown)} enregistrement(s) rejeté(s) sur {connector.dlq_topic}")


@dlq.command()
@click.argument("source", type=click.Choice(SOURCES))
@run_async
async def replay(source: str) -> None:
    """Validate SOURCE's rejected records again and publish those that now pass (after
    a directory fix, say). Each dead letter is replayed once: the position is kept in the
    consumer group `hub-dlq-replay.<source>`; a record still invalid goes back to the
    dead-letter topic with its current reason; a record rejected several times (a file
    ingested again) is replayed once. A record is checked against the as-of of the
    ingest it came from (FUTURE_DATE stays FUTURE_DATE)."""
    settings = get_settings()
    await ensure_topics(settings)  # the schemas of what is published, on hub.schemas.v1
    async with source_lock(settings, source, "hub dlq replay"):
        counts = await _replay(settings, source)
    click.echo(
        f"{source} : {counts['replayed']} rejoués, {counts['published']} publiés, {counts['unchanged']} inchangés, "
        f"{counts['filtered']} filtrés, {counts['rejected']} rejetés à nouveau"
        + (f", {counts['unreadable']} illisibles" if counts["unreadable"] else "")
        + (f", {counts['repeats']} doublons ignorés" if counts["repeats"] else "")
    )
    if counts["published"] and settings.pseudonym_secret == DEFAULT_PSEUDONYM_SECRET:
        get_logger("hub.dlq").warning(DEFAULT_SECRET_WARNING)  # it publishes person keys, as `hub ingest`


async def _replay(settings: Settings, source: str) -> dict[str, int]:
    connector = get_connector(source)
    directory = await read_directory(settings) if connector.needs_directory else None
    ctx = make_context(connector, directory=directory, settings=settings)
    seen = KafkaSeenEvents(settings)
    await seen.load([connector.topic])
    codec = get_codec()
    await learn_schemas(codec, settings)
    consumer = client.consumer(settings=settings, group_id=f"hub-dlq-replay.{source}")
    await client.started(consumer)
    counts = {"replayed": 0, "published": 0, "unchanged": 0, "filtered": 0, "rejected": 0, "unreadable": 0,
              "repeats": 0}
    done: set[tuple[str, str, str]] = set()  # the records replayed by this run
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
                        await _replay_one(record.value, connector, ctx, codec, sink, seen, counts, done)
                await sink.flush()
                await consumer.commit({tp: ends[tp]})
    finally:
        await client.stop_consumer(consumer)
        seen.close()
    return counts


async def _replay_one(value, connector, ctx, codec, sink, seen, counts, done) -> None:
    try:
        letter = codec.decode(value)
    except CodecError:
        counts["unreadable"] += 1
        return
    identity = letter_identity(letter)
    if identity in done:  # the same record rejected twice (a re-ingest): replayed once
        counts["repeats"] += 1
        return
    done.add(identity)
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
    elif published_since(letter, connector, ctx, seen):
        counts["unchanged"] += 1  # a later ingest published it: nothing awaits a fix
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
