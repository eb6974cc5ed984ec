"""`GET /metrics`, Prometheus text format.

From Kafka at scrape time (the operator report, cached 2 s):
    hub_events_in_total{topic}            records on each source topic (end − beginning offsets)
    hub_events_out_total{topic}           records on cases.v1 and each observatory's topic
    hub_topic_end_offset{topic}           summed end offsets of every topic
    hub_rejected_total{source,reason}     dead letters per source and reason (the .dlq topics)
    hub_consumer_lag{group,topic}         the engine's group: records not yet committed
    hub_watermark_age_days{source}        today (France) − the source's watermark
    hub_clock_age_days                    today − the hub's clock (absent while there is no clock)
From the web process's view of cases.v1 (current state, after the 24-month erasure):
    hub_cases{type,status}                cases per type and status (a gauge: retention
                                          erases cases; per type: `sum by (type) (hub_cases)`)
Of this process:
    hub_http_ingest_requests_total{source,outcome}, hub_http_ingest_rejections_total{source,reason},
    hub_web_actions_total{action,outcome}, hub_web_logins_total{outcome}
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import CollectorRegistry, Counter as PromCounter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from hub.types.cases import CASE_TYPES, STATUSES, TRANSFERE
from hub.types.events import SOURCE_TOPICS
from hub.web.ops import OpsReport, today

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ProcessMetrics:
    """Counters of this web process (a registry per app: several apps in one test run)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ingest = PromCounter("hub_http_ingest_requests", "HTTP ingest requests by outcome",
                                  ["source", "outcome"], registry=self.registry)
        self.rejections = PromCounter("hub_http_ingest_rejections", "Reasons of records refused over HTTP",
                                      ["source", "reason"], registry=self.registry)
        self.actions = PromCounter("hub_web_actions", "Follow-up actions recorded", ["action", "outcome"],
                                   registry=self.registry)
        self.logins = PromCounter("hub_web_logins", "Log-in attempts", ["outcome"], registry=self.registry)


class _Snapshot:
    def __init__(self, report: OpsReport, cases: dict) -> None:
        self.report = report
        self.cases = cases

    def collect(self):
        report = self.report
        sources = set(SOURCE_TOPICS.values())
        events_in = CounterMetricFamily("hub_events_in", "Records on each source topic", labels=["topic"])
        events_out = CounterMetricFamily("hub_events_out", "Records on the case topics", labels=["topic"])
        ends = GaugeMetricFamily("hub_topic_end_offset", "Summed end offsets of each topic", labels=["topic"])
        for t in report.topics:
            ends.add_metric([t.name], t.end)
            if t.name in sources:
                events_in.add_metric([t.name], t.messages)
            elif t.kind == "cases":
                events_out.add_metric([t.name], t.messages)
        yield events_in
        yield events_out
        yield ends
        rejected = CounterMetricFamily("hub_rejected", "Dead letters per source and reason", labels=["source", "reason"])
        for (source, reason), n in sorted(report.dead_letters.items()):
            rejected.add_metric([source, reason], n)
        yield rejected
        lag = GaugeMetricFamily("hub_consumer_lag", "Records not yet committed by the engine's consumer group",
                                labels=["group", "topic"])
        for topic, n in report.lag.items():
            lag.add_metric([report.group, topic], n)
        yield lag
        on = today()
        marks = GaugeMetricFamily("hub_watermark_age_days", "Days since each source's watermark", labels=["source"])
        for source, as_of in sorted(report.watermarks.items()):
            marks.add_metric([source], (on - as_of).days)
        yield marks
        age = report.clock_age_days(on)
        clock = GaugeMetricFamily("hub_clock_age_days", "Days between today and the hub's clock")
        if age is not None:
            clock.add_metric([], age)
        yield clock

        by_status: Counter[tuple[str, str]] = Counter((c["type"], c["status"]) for c in self.cases.values())
        gauge = GaugeMetricFamily("hub_cases", "Cases per type and status (cases.v1)", labels=["type", "status"])
        # Every type and status, zeros included: a series that vanishes is not a zero.
        # (hub_cases_opened_total and hub_cases_closed_total were counters computed from
        # this current state, which retention makes go down: a counter never does.)
        for kind in CASE_TYPES:
            for status in STATUSES:
                if status == TRANSFERE:  # an observatory topic's status, never cases.v1's
                    continue
                gauge.add_metric([kind, status], by_status.get((kind, status), 0))
        yield gauge


def render(process: ProcessMetrics, report: OpsReport, cases: dict) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(report, cases))
    return generate_latest(process.registry) + generate_latest(registry)
