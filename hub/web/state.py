"""The long-lived parts of one web process: Kafka clients, the topic view, publishing.

Started by the app's lifespan. Kafka is connected in the background and retried until
it answers, so the process starts (and `/healthz` says 503) even while the broker is
down; pages and API calls answer 503 until then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from connectors import get_connector
from hub.accounts import AccountStore
from hub.kafka import client
from hub.kafka.seen import KafkaSeenEvents
from hub.kafka.sink import KafkaSink
from hub.kafka.topics import ensure_topics
from hub.logging import get_logger
from hub.settings import Settings
from hub.web.ops import OpsReport, collect
from hub.web.view import TopicView

log = get_logger("hub.web")

OPS_CACHE_SECONDS = 2.0
OPS_TIMEOUT = 15.0  # a slow broker with many partitions still answers well within it
PUBLISH_TIMEOUT = 20.0


class Unavailable(Exception):
    """Kafka is not (yet) reachable. `event_id`: a record handed to the producer whose
    delivery was not confirmed in time; the producer may still deliver it when the
    broker comes back, so the client is told to send it again (same id: no second
    fact, `unchanged` if the first attempt got through)."""

    def __init__(self, event_id: str | None = None) -> None:
        super().__init__()
        self.event_id = event_id


class WebHub:
    def __init__(self, settings: Settings, store: AccountStore) -> None:
        self.settings = settings
        self.store = store
        self.view = TopicView(settings)
        self.sink = KafkaSink(settings)
        self._admin: AIOKafkaAdminClient | None = None
        self._ops_consumer = None
        self._connect_task: asyncio.Task | None = None
        self._warm: asyncio.Task | None = None
        self.connected = asyncio.Event()
        self._failed = asyncio.Event()
        self._seen: dict[str, KafkaSeenEvents] = {}
        self._seen_lock = asyncio.Lock()
        self._inflight: dict[str, asyncio.Future] = {}
        self._ops: tuple[float, OpsReport] | None = None
        self._ops_lock = asyncio.Lock()

    # -- life cycle ---------------------------------------------------------------------

    async def start(self, wait: float = 120.0) -> None:
        """Connect in the background. Wait (up to `wait` seconds) for the first full view,
        but not past a first failed attempt: with the broker down the server starts at
        once and answers 503 while it retries."""
        self._connect_task = asyncio.create_task(self._connect(), name="hub-web-connect")
        done = asyncio.create_task(self.connected.wait())
        failed = asyncio.create_task(self._failed.wait())
        try:
            await asyncio.wait({done, failed}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.cancel()
            failed.cancel()
        if not self.connected.is_set():
            log.warning("kafka not reachable yet: answering 503 until it is")

    async def _connect(self) -> None:
        delay = 1.0
        while True:
            started: list = []
            try:
                await ensure_topics(self.settings)  # posted events' schemas on hub.schemas.v1
                await self.sink.start()
                started.append(self.sink.stop)
                self._admin = client.admin(self.settings)
                await self._admin.start()
                started.append(self._admin.close)
                self._ops_consumer = client.consumer(settings=self.settings, group_id=None)
                await self._ops_consumer.start()
                started.append(lambda: client.stop_consumer(self._ops_consumer))
                await self.view.start()
                started.append(self.view.stop)
                await self.view.sync(timeout=120)
                self.connected.set()
                log.info("kafka connected", cases=len(self.view.cases), observatories=len(self.view.observatories))
                self._warm = asyncio.create_task(self._warm_up(), name="hub-web-seen")
                return
            except asyncio.CancelledError:
                for stop in reversed(started):
                    try:
                        await stop()
                    except Exception:  # noqa: BLE001
                        pass
                raise
            except Exception as exc:  # noqa: BLE001 — retry until the broker answers
                log.warning("kafka connection failed", reason=f"{type(exc).__name__}: {exc}"[:200], retry_in=delay)
                self._failed.set()
                for stop in reversed(started):
                    try:
                        await stop()
                    except Exception:  # noqa: BLE001
                        pass
                self._admin = None
                self._ops_consumer = None
                self.sink = KafkaSink(self.settings)
                self.view = TopicView(self.settings)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 15.0)

    async def _warm_up(self) -> None:
        """Load the event ids of every source topic now, so that a first post does not
        wait for it (later runs read only what is new: hub.kafka.seen keeps a cache)."""
        from connectors import SOURCES

        for source in SOURCES:
            try:
                await self.seen_events(source)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — loaded again on the first post
                log.warning("seen events not loaded", source=source, reason=f"{type(exc).__name__}"[:100])

    async def stop(self) -> None:
        if self._warm is not None and not self._warm.done():
            self._warm.cancel()
            try:
                await self._warm
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
            try:
                await self._connect_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        for seen in self._seen.values():
            try:
                await seen.aclose()
            except Exception:  # noqa: BLE001 — a cache: losing its last writes costs a re-read
                pass
        self._seen.clear()
        if not self.connected.is_set():
            return
        await self.view.stop()
        try:
            await self.sink.stop()
        finally:
            if self._ops_consumer is not None:
                await client.stop_consumer(self._ops_consumer)
            if self._admin is not None:
                await self._admin.close()

    def require(self) -> None:
        if not self.connected.is_set():
            raise Unavailable()

    # -- health -------------------------------------------------------------------------

    async def kafka_ok(self, timeout: float = 3.0) -> bool:
        if not self.connected.is_set() or self._admin is None:
            return False
        return await client.answers(self._admin.describe_cluster(), timeout)

    # -- reading ------------------------------------------------------------------------

    async def fresh_view(self) -> TopicView:
        """The view, caught up with everything written before this call (bounded wait)."""
        self.require()
        await self.view.sync(timeout=3.0)
        return self.view

    async def ops_report(self) -> OpsReport:
        """The operators' figures (`/exploitation`, `/metrics`). Kafka gone since the
        start is `Unavailable` (503) within seconds, as for `/healthz`: the report's
        offsets and lags cannot be had without it, and an operator must see the outage,
        not a page that hangs and then fails."""
        self.require()
        async with self._ops_lock:
            if self._ops is not None and time.monotonic() - self._ops[0] < OPS_CACHE_SECONDS:
                return self._ops[1]
            if not await self.kafka_ok():
                raise Unavailable()
            await self.view.sync(timeout=3.0)
            assert self._ops_consumer is not None and self._admin is not None
            try:
                report = await asyncio.wait_for(
                    collect(self.settings, self._ops_consumer, self._admin,
                            dead_letters=dict(self.view.dead_letters), watermarks=dict(self.view.watermarks)),
                    timeout=OPS_TIMEOUT,
                )
            except (TimeoutError, KafkaError) as exc:  # went away meanwhile
                log.warning("operations report: kafka stopped answering", error=type(exc).__name__)
                raise Unavailable() from None
            self._ops = (time.monotonic(), report)
            return report

    # -- publishing ---------------------------------------------------------------------

    async def seen_events(self, source: str) -> KafkaSeenEvents:
        """The event ids already on `source`'s topic: loaded once per process, then
        caught up at every call with what other processes (a file ingest, another
        server) wrote since, and kept up to date with what this process publishes."""
        async with self._seen_lock:
            seen = self._seen.get(source)
            try:
                if seen is None:
                    seen = KafkaSeenEvents(self.settings)
                    await seen.load([get_connector(source).topic], follow=True)
                    self._seen[source] = seen
                else:
                    await asyncio.wait_for(seen.catch_up(), PUBLISH_TIMEOUT)
            except (TimeoutError, asyncio.TimeoutError, KafkaError) as exc:
                log.warning("seen events not read", source=source, reason=type(exc).__name__)
                raise Unavailable() from exc
            return seen

    async def _send(self, topic: str, key: str, event: dict[str, Any]) -> None:
        await self.sink.publish(topic, key, event)
        await self.sink.flush()

    async def publish_once(self, topic: str, key: str, event: dict[str, Any],
                           known: Callable[[str], bool], remember: Callable[[str], None]) -> bool:
        """Publish `event` unless its id is `known(id)` or being published right now by
        another request; True when this call published it (and `remember(id)` was
        called once the broker acknowledged it). Two identical posts racing each other
        give one message: the second waits for the first."""
        eid = event["event_id"]
        if known(eid):
            return False
        pending = self._inflight.get(eid)
        if pending is not None:
            try:
                await asyncio.shield(pending)
            except (TimeoutError, asyncio.TimeoutError, KafkaError) as exc:
                raise Unavailable(eid) from exc
            return False
        future = asyncio.get_running_loop().create_future()
        self._inflight[eid] = future
        try:
            await asyncio.wait_for(self._send(topic, key, event), PUBLISH_TIMEOUT)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            if isinstance(exc, (TimeoutError, asyncio.TimeoutError, KafkaError)):
                log.warning("publish failed", topic=topic, reason=type(exc).__name__)
                raise Unavailable(eid) from exc
            raise
        else:
            remember(eid)
            future.set_result(True)
            return True
        finally:
            self._inflight.pop(eid, None)
