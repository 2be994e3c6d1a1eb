"""Prometheus metrics: one registry per process, exposed at GET /metrics.

Queue depth and age are read from the database at scrape time (a collector), so every replica
reports the shared queue and a restarted process reports it at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghapp.store.queue import Queue
from ghapp.store.schema import STATUSES

logger = logging.getLogger("ghapp.store.metrics")


class Metrics:
    """Every metric ghapp exports, on its own registry (tests make as many as they like)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.deliveries = Counter(
            "ghapp_deliveries_total",
            "Webhook deliveries by intake outcome (received, deduplicated, failed).",
            ["outcome", "event"],
            registry=r,
        )
        self.intake_commit_seconds = Histogram(
            "ghapp_intake_commit_seconds",
            "Time to commit one group of deliveries.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.jobs = Counter(
            "ghapp_jobs_total",
            "Jobs finished by outcome (done, retry, dead, lost_lease).",
            ["outcome", "event"],
            registry=r,
        )
        self.job_seconds = Histogram(
            "ghapp_job_duration_seconds",
            "Time to process one job, by event.",
            ["event"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.github_calls = Counter(
            "ghapp_github_api_calls_total",
            "GitHub API requests by method and status code.",
            ["method", "status"],
            registry=r,
        )
        self.github_rate_limit_remaining = Gauge(
            "ghapp_github_rate_limit_remaining",
            "x-ratelimit-remaining from the latest GitHub response, by installation.",
            ["installation"],
            registry=r,
        )
        self.findings = Counter(
            "ghapp_findings_total", "Findings reported, by rule.", ["rule"], registry=r
        )

    def count_delivery(self, outcome: str, event: str) -> None:
        """Count one intake outcome: received, deduplicated or failed."""
        self.deliveries.labels(outcome=outcome, event=event).inc()

    def count_job(self, outcome: str, event: str, seconds: float) -> None:
        """Count one finished attempt and its duration."""
        self.jobs.labels(outcome=outcome, event=event).inc()
        self.job_seconds.labels(event=event).observe(seconds)

    def count_github_call(
        self, method: str, status: int, rate_limit_remaining: str | None, installation: str = ""
    ) -> None:
        """Count one GitHub request; record the rate-limit budget it reported."""
        self.github_calls.labels(method=method, status=str(status)).inc()
        if rate_limit_remaining is not None and rate_limit_remaining.isdigit():
            self.github_rate_limit_remaining.labels(installation=installation).set(
                int(rate_limit_remaining)
            )

    def count_findings(self, rules: list[str]) -> None:
        """Count findings by rule id."""
        for rule in rules:
            self.findings.labels(rule=rule).inc()

    def watch_queue(self, queue: Queue) -> None:
        """Report the queue's depth and age at every scrape."""
        self.registry.register(QueueCollector(queue))

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


class QueueCollector(Collector):
    """ghapp_queue_depth{status} and ghapp_queue_oldest_age_seconds, read at scrape time."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self.queue.stats()
        except Exception as exc:  # a scrape must not fail because the database is down
            logger.warning("queue stats unavailable: %r", exc)
            return
        depth = GaugeMetricFamily("ghapp_queue_depth", "Jobs by status.", labels=["status"])
        for status in STATUSES:
            depth.add_metric([status], stats.counts.get(status, 0))
        yield depth
        yield GaugeMetricFamily(
            "ghapp_queue_oldest_age_seconds",
            "Age of the oldest pending or running job (0 when none).",
            value=stats.oldest_pending_age or 0.0,
        )


def metrics_route(metrics: Metrics, path: str = "/metrics") -> Route:
    """A Starlette route serving `metrics` (the scrape runs in a thread: it queries the DB)."""

    async def endpoint(request: Request) -> Response:
        body = await asyncio.to_thread(metrics.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Route(path, endpoint, methods=["GET"])
