"""Fixtures of the web tests: one real `hub serve` for the whole package, with accounts of
every role and case records seeded straight onto the case topics.

- `web_broker` (package scope): a Kafka of this package's own. The engine tests run
  `hub worker --until-idle`, whose new consumer group reads every topic from the
  beginning: on the session broker it would first chew through everything the other
  test modules published (minutes), and the clock these tests move would be everyone's.
- `web` (package scope): HUB_HOME of its own, topics applied and the sample directory
  loaded, accounts made with hub.accounts, a `hub serve` subprocess on a free port whose
  output goes to `<home>/serve.log` (read by the log test). Its worker id is the
  package's own, so the operator page and `hub status` report the lag of the worker
  these tests run.
- `seeded` (package scope): case records produced with the hub codec on `cases.v1` and
  on the observatories' topics, as the engine would: OBS-86 and OBS-16 cases, one
  transferred from OBS-86 to OBS-16. Names carry a unique tag.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from hub.accounts import AccountStore
from hub.avro import get_codec
from hub.kafka import client
from hub.kafka.compacted import read_until_end
from hub.kafka.embedded import free_port
from hub.kafka.topics import CASES, observatory_topic
from hub.settings import Settings
from tests.conftest import REPO, own_broker

SAMPLE_DIRECTORY = REPO / "deploy" / "sample" / "annuaire-poitou-charentes.yaml"
ARTIFACTS = REPO / "test-artifacts" / "web"

PASSWORDS = {
    "obs86": "obs86-mot-de-passe-long",
    "obs16": "obs16-mot-de-passe-long",
    "ml86": "ml86-mot-de-passe-long!",
    "cti86": "cti86-mot-de-passe-long",
    "oper": "oper-mot-de-passe-long!",
}


@dataclass
class Web:
    url: str
    home: Path
    env: dict
    settings: Settings
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30, **kwargs)

    def login(self, name: str, password: str | None = None) -> httpx.Client:
        c = self.client()
        form = c.get("/connexion")
        r = c.post("/connexion", data={"csrf_token": csrf_of(form.text), "identifiant": name,
                                      "mot_de_passe": password or PASSWORDS[name], "suivant": ""})
        assert r.status_code == 303, r.text
        return c

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def settings_for(env: dict) -> Settings:
    return Settings(kafka_bootstrap=env["HUB_KAFKA_BOOTSTRAP"], home=Path(env["HUB_HOME"]),
                    worker_id=env.get("HUB_WORKER_ID", "hub-worker"))


async def _prepare(settings: Settings) -> None:
    from hub.directory import load_directory
    from hub.directory_feed import publish_directory
    from hub.kafka.topics import apply_topics, declared_topics

    data = load_directory(SAMPLE_DIRECTORY)
    admin = client.admin(settings)
    await admin.start()
    try:
        await apply_topics(admin, declared_topics(settings, [o.code for o in data.observatoires]),
                           settings.replication_factor)
    finally:
        await admin.close()
    await publish_directory(data, settings)


def _make_accounts(home: Path) -> dict[str, str]:
    store = AccountStore.for_home(home)
    store.add("obs86", "OBSERVATOIRE", code="OBS-86", password=PASSWORDS["obs86"])
    store.add("obs16", "OBSERVATOIRE", code="OBS-16", password=PASSWORDS["obs16"], token=False)
    ml = store.add("ml86", "MISSION_LOCALE", code="ML-86-POI", password=PASSWORDS["ml86"], token=True)
    store.add("cti86", "CTI_ETAT", code="CTI-E-86-01", password=PASSWORDS["cti86"])
    store.add("oper", "OPERATEUR", password=PASSWORDS["oper"])
    tokens = {"ml86": ml}
    tokens["obs16"] = store.rotate_token("obs16")
    tokens["cti"] = store.add("api-cti-e-86-01", "INSTITUTION", source="cti", code="CTI-E-86-01")
    tokens["cfa"] = store.add("api-cfa", "INSTITUTION", source="cfa")
    tokens["rectorat"] = store.add("api-rectorat", "INSTITUTION", source="rectorat")
    tokens["disabled"] = store.add("api-off", "INSTITUTION", source="cti", code="CTI-E-86-01")
    store.set_disabled("api-off")
    return tokens


def _start_server(web: Web) -> None:
    exe = Path(sys.executable).parent / "hub"
    port = int(web.url.rsplit(":", 1)[1])
    out = open(web.log, "ab")
    web.proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=web.env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if web.proc.poll() is not None:
            raise RuntimeError(f"hub serve exited ({web.proc.returncode}):\n{web.log_text()[-3000:]}")
        try:
            if httpx.get(f"{web.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"hub serve did not answer:\n{web.log_text()[-3000:]}")


@pytest.fixture(scope="package")
def web_broker(tmp_path_factory):
    """A real single-node Kafka for this package: yields its bootstrap."""
    with own_broker(tmp_path_factory, "web-kafka", "512m") as bootstrap:
        yield bootstrap


@pytest.fixture(scope="package")
def web(web_broker, tmp_path_factory) -> Web:
    home = tmp_path_factory.mktemp("web-home")
    env = {**os.environ, "HUB_KAFKA_BOOTSTRAP": web_broker, "HUB_HOME": str(home),
           "HUB_WORKER_ID": f"web-tests-{uuid.uuid4().hex[:8]}", "HUB_LOG_FORMAT": "json"}
    env.pop("HUB_WEB_SECRET", None)
    settings = settings_for(env)
    asyncio.run(_prepare(settings))
    tokens = _make_accounts(home)
    w = Web(url=f"http://127.0.0.1:{free_port()}", home=home, env=env, settings=settings, log=home / "serve.log",
            tokens=tokens)
    _start_server(w)
    try:
        yield w
    finally:
        if w.proc is not None and w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
            try:
                w.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait(timeout=10)


# -- seeded cases ------------------------------------------------------------------------------


def case_record(tag: str, suffix: str, *, obs: str, role: str, code: str, status: str = "OUVERT",
                kind: str = "DECROCHAGE", opened: date = date(2026, 9, 1), alerted: date | None = None,
                closed: date | None = None, outcome: str | None = None, transfers=(), ine: str | None = None) -> dict:
    return {
        "case_id": "c-" + uuid.uuid4().hex[:24],
        "type": kind,
        "status": status,
        "outcome": outcome,
        "observatoire": obs,
        "assigned_to": {"role": role, "code": code},
        "person": {"ine": ine, "nom": f"WEB{tag}{suffix}", "prenom": "Élodie", "date_naissance": date(2008, 2, 14),
                   "commune_residence": "86194" if obs == "OBS-86" else "16015"},
        "opened_on": opened,
        "alerted_on": alerted,
        "closed_on": closed,
        "periode_essai": None,
        "evidence": [{"event_type": "ELEVE_SORTI", "event_date": opened, "source": "rectorat",
                      "source_ref": f"export-{suffix}.xml:ELEVE[3]"}],
        "transfers": list(transfers),
    }


def produce_cases(settings: Settings, records: list[tuple[str, dict | None, str]]) -> None:
    """(topic, record or None for a tombstone, case id) on the case topics."""
    codec = get_codec()

    async def go() -> None:
        producer = client.producer(settings)
        await producer.start()
        try:
            for topic, record, cid in records:
                value = codec.encode("case", record) if record is not None else None
                await producer.send(topic, value, key=cid.encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(go())


@dataclass
class Seeded:
    tag: str
    obs86: dict[str, dict]  # suffix → record (visible to OBS-86)
    obs16: dict[str, dict]
    transferred: dict  # full record (now OBS-16's); OBS-86 holds a TRANSFERE record of it

    def names(self, cases: dict[str, dict]) -> set[str]:
        return {c["person"]["nom"] for c in cases.values()}


@pytest.fixture(scope="package")
def seeded(web) -> Seeded:
    tag = uuid.uuid4().hex[:6].upper()
    ml86, cti86 = ("MISSION_LOCALE", "ML-86-POI"), ("CTI_ETAT", "CTI-E-86-01")
    obs86 = {
        "OUVERT": case_record(tag, "OUVERT", obs="OBS-86", role=ml86[0], code=ml86[1], opened=date(2026, 9, 1)),
        "ANCIEN": case_record(tag, "ANCIEN", obs="OBS-86", role=ml86[0], code=ml86[1], opened=date(2026, 3, 1)),
        "ALERTE": case_record(tag, "ALERTE", obs="OBS-86", role=cti86[0], code=cti86[1], status="ALERTE",
                              kind="OBLIGATION_FORMATION", opened=date(2026, 6, 1), alerted=date(2026, 9, 1)),
        "RESOLU": case_record(tag, "RESOLU", obs="OBS-86", role=ml86[0], code=ml86[1], status="RESOLU",
                              opened=date(2026, 2, 1), closed=date(2026, 4, 1), outcome="APPRENTISSAGE"),
    }
    obs16 = {
        "SEIZE": case_record(tag, "SEIZE", obs="OBS-16", role="MISSION_LOCALE", code="ML-16-ANG",
                             opened=date(2026, 8, 1), ine="123456789ZZ"),
    }
    moved = case_record(tag, "DEMENAGE", obs="OBS-16", role="MISSION_LOCALE", code="ML-16-ANG",
                        opened=date(2026, 5, 1),
                        transfers=[{"date": date(2026, 7, 1), "from_observatoire": "OBS-86",
                                    "to_observatoire": "OBS-16", "reason": "DEMENAGEMENT"}])
    transfere = {**moved, "status": "TRANSFERE", "person": None, "evidence": [], "observatoire": "OBS-86",
                 "assigned_to": {"role": "OBSERVATOIRE", "code": "OBS-86"}, "closed_on": date(2026, 7, 1)}
    records = []
    for c in obs86.values():
        records += [(CASES, c, c["case_id"]), (observatory_topic("OBS-86"), c, c["case_id"])]
    for c in [*obs16.values(), moved]:
        records += [(CASES, c, c["case_id"]), (observatory_topic("OBS-16"), c, c["case_id"])]
    records.append((observatory_topic("OBS-86"), transfere, moved["case_id"]))
    produce_cases(web.settings, records)
    return Seeded(tag=tag, obs86=obs86, obs16=obs16, transferred=moved)


# -- reading topics ----------------------------------------------------------------------------


def messages_with_id(settings: Settings, topic: str, event_id: str) -> list:
    """Every record of `topic` whose `event_id` header is `event_id`."""

    async def go() -> list:
        found = []
        async for record in read_until_end(topic, settings):
            for name, value in record.headers or ():
                if name == "event_id" and value.decode() == event_id:
                    found.append(record)
        return found

    return asyncio.run(go())


def end_offset_total(settings: Settings, topic: str) -> int:
    async def go() -> int:
        from aiokafka import TopicPartition

        consumer = client.consumer(settings=settings)
        await consumer.start()
        try:
            parts = await client.topic_partitions(consumer, topic)
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
            return sum(ends.values())
        finally:
            await client.stop_consumer(consumer)

    return asyncio.run(go())


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- the engine ---------------------------------------------------------------------------------


def worker_available(env: dict) -> bool:
    from tests.conftest import run_hub

    return run_hub("worker", "--help", env=env, timeout=60).returncode == 0


def run_worker(web: Web, timeout: float = 240) -> float:
    """`hub worker --until-idle` with the package's worker id and home."""
    from tests.conftest import run_hub

    started = time.monotonic()
    done = run_hub("worker", "--until-idle", env=web.env, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return time.monotonic() - started


def clock_at_least(settings: Settings, day: date) -> None:
    """Move the three clock sources' watermarks to `day` unless they are past it (they
    only move forward: the other tests of the session date their events after them)."""
    from hub.kafka.watermarks import advance_watermark
    from hub.types.events import CLOCK_SOURCES

    async def go() -> None:
        producer = client.producer(settings)
        await producer.start()
        try:
            for source in CLOCK_SOURCES:
                await advance_watermark(producer, source, day, settings)
        finally:
            await producer.stop()

    asyncio.run(go())


@dataclass
class EngineCase:
    case_id: str
    nom: str
    ine: str
    reference: str
    report_date: date


@pytest.fixture(scope="package")
def engine_case(web) -> EngineCase:
    """A CTI REPERAGE posted over HTTP, the clock brought to its date, the engine run:
    the PREVENTION case it opened (OBS-86, CTI-E-86-01)."""
    from datetime import timedelta

    from hub.identity import case_id
    from hub.web.ops import today

    if not worker_available(web.env):
        pytest.fail("`hub worker` is not available: the engine tests need it")
    tag = uuid.uuid4().hex[:6].upper()
    ine = f"{random.randrange(10**9):09d}" + random.choice("ABCDEFGH") + random.choice("JKLMNPRS")
    day = today() - timedelta(days=2)
    t = today()
    born = t.replace(year=t.year - 17, day=min(t.day, 28))
    nom = f"MOTEUR{tag}"
    report = {"cti": "CTI-E-86-01", "uai": "0860012W", "type": "REPERAGE", "date": day.isoformat(),
              "reference": f"fiche-{tag}", "motif": "absences répétées",
              "jeune": {"ine": ine, "nom": nom, "prenom": "Élodie", "date_naissance": born.isoformat(),
                        "commune_residence": "86194"}}
    r = httpx.post(f"{web.url}/api/v1/ingest/cti", json=report,
                   headers={"Authorization": f"Bearer {web.tokens['cti']}"}, timeout=30)
    assert r.status_code == 202, r.text
    clock_at_least(web.settings, day)
    run_worker(web)
    return EngineCase(case_id=case_id(ine, "PREVENTION", day), nom=nom, ine=ine, reference=f"fiche-{tag}",
                      report_date=day)
