"""Prometheus metrics at ``/metrics``: SCIM requests, latency, webhook outcomes, the event outbox's lag.

Each app has its own registry (several apps in one process, as in tests, never collide). With several worker
processes each answers for itself; scrape each, or sum them (``sum by (…)`` in PromQL).
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from scimgate.store.database import Database, utc
from scimgate.store.tables import deliveries, events

_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "scimgate_scim_requests",
            "SCIM requests by directory, resource, method and status.",
            ["directory", "resource", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scimgate_scim_request_seconds",
            "SCIM request latency by resource and method.",
            ["resource", "method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = Counter(
            "scimgate_webhook_attempts",
            "Webhook delivery attempts by outcome (succeeded, failed: will retry, gave_up: schedule exhausted).",
            ["outcome"],
            registry=self.registry,
        )
        self.ignored = Counter(
            "scimgate_scim_ignored_attributes",
            "Attributes and PATCH paths that tolerant mode accepted a SCIM request without (see the provisioning log).",
            ["resource"],
            registry=self.registry,
        )
        self.log_dropped = Counter(
            "scimgate_request_log_dropped",
            "Provisioning log entries dropped because the writer fell behind.",
            registry=self.registry,
        )
        self.registry.register(_Outbox(db))

    def observe(self, directory: str | None, resource: str | None, method: str, status: int, seconds: float) -> None:
        self.requests.labels(directory or "", resource or "", method, str(status)).inc()
        self.latency.labels(resource or "", method).observe(seconds)


class _Outbox(Collector):
    """Read at scrape time: events not yet sequenced, deliveries pending, and how old the oldest pending one is."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Any:
        with self.db.read() as conn:
            unsequenced = conn.execute(sa.select(sa.func.count()).where(events.c.position.is_(None))).scalar_one()
            pending = conn.execute(
                sa.select(sa.func.count(), sa.func.min(deliveries.c.created_at)).where(deliveries.c.status == "pending")
            ).one()
        yield GaugeMetricFamily("scimgate_events_unsequenced", "Events committed but not yet in the feed.", unsequenced)
        yield GaugeMetricFamily(
            "scimgate_webhook_deliveries_pending", "Webhook deliveries not yet acknowledged.", pending[0]
        )
        oldest = (datetime.now(UTC) - utc(pending[1])).total_seconds() if pending[1] is not None else 0.0
        yield GaugeMetricFamily(
            "scimgate_webhook_oldest_pending_seconds", "Age of the oldest unacknowledged webhook delivery.", oldest
        )
