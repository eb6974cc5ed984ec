"""`hub status` and the operator data it shares with the web page and /metrics."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import pytest

from hub.kafka.sink import KafkaSink
from hub.kafka.topics import dlq_topic
from hub.types.events import SOURCE_TOPICS
from tests.conftest import run_hub
from tests.web.conftest import clock_at_least

pytestmark = pytest.mark.kafka


def dead_letter(settings, reason: str) -> None:
    async def go() -> None:
        async with KafkaSink(settings) as sink:
            await sink.dead_letter(dlq_topic(SOURCE_TOPICS["cti"]), {
                "source": "cti", "file": "api", "position": "line 1", "reason": reason, "detail": "test",
                "raw": "{}", "row": None, "received_at": datetime.now(UTC)})

    asyncio.run(go())


def dlq_count(report: dict, reason: str) -> int:
    return sum(d["count"] for d in report["dead_letters"] if d["source"] == "cti" and d["reason"] == reason)


def test_status_reports_topics_lag_dead_letters_watermarks_and_clock(web):
    from hub.web.ops import today

    clock_at_least(web.settings, today().replace(day=1))
    reason = "TEST_STATUS"
    first = run_hub("status", "--json", env=web.env)
    assert first.returncode == 0, first.stderr
    before = json.loads(first.stdout)
    dead_letter(web.settings, reason)
    after = json.loads(run_hub("status", "--json", env=web.env).stdout)
    assert dlq_count(after, reason) == dlq_count(before, reason) + 1

    topics = {t["topic"]: t for t in after["topics"]}
    assert {"cases.v1", "cti.signalements.v1", "suivi.actions.v1", "hub.watermarks.v1",
            "observatoire.OBS-86.cases.v1"} <= set(topics)
    assert all(t["end"] >= t["begin"] >= 0 for t in topics.values())
    assert after["worker"]["group"] == web.env["HUB_WORKER_ID"]
    assert set(after["worker"]["lag"]) >= {"cti.signalements.v1", "suivi.actions.v1", "hub.watermarks.v1"}
    assert {"rectorat", "mission-locale", "cfa"} <= set(after["watermarks"])
    clock = min(after["watermarks"][s] for s in ("rectorat", "mission-locale", "cfa"))
    assert after["clock"] == clock and isinstance(after["clock_age_days"], int)

    text = run_hub("status", env=web.env)
    assert text.returncode == 0, text.stderr
    for needle in ("Horloge", "Retard du moteur", web.env["HUB_WORKER_ID"], "cti.signalements.v1", reason,
                   "Rejets (DLQ)"):
        assert needle in text.stdout, needle

    # The web process sees the same dead letter (its view reads the .dlq topics).
    with web.client() as c:
        metrics = c.get("/metrics").text
    line = re.search(rf'^hub_rejected_total\{{reason="{reason}",source="cti"\}} (\S+)$', metrics, re.M)
    assert line and float(line.group(1)) == dlq_count(after, reason)
    assert re.search(r"^hub_clock_age_days (\S+)$", metrics, re.M)
    ops = web.login("oper").get("/exploitation").text
    assert reason in ops and web.env["HUB_WORKER_ID"] in ops
