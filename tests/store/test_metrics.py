"""GET /metrics: Prometheus text with intake, queue, job, GitHub and findings metrics."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import Engine
from starlette.applications import Starlette

from ghapp.store.db import make_engine
from ghapp.store.metrics import Metrics, metrics_route
from ghapp.store.queue import Queue
from ghapp.store.sink import DurableSink
from tests.store.conftest import make_delivery


def scrape(metrics: Metrics) -> httpx.Response:
    app = Starlette(routes=[metrics_route(metrics)])

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ghapp") as client:
            return await client.get("/metrics")

    return asyncio.run(get())


def test_metrics_report_intake_and_queue_depth(engine: Engine) -> None:
    metrics = Metrics()
    queue = Queue(engine)
    metrics.watch_queue(queue)
    sink = DurableSink(queue, metrics=metrics)

    async def intake() -> None:
        for delivery_id in ("a", "b", "a"):
            await sink.accept(make_delivery(delivery_id))

    asyncio.run(intake())
    response = scrape(metrics)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'ghapp_deliveries_total{event="push",outcome="received"} 2.0' in text
    assert 'ghapp_deliveries_total{event="push",outcome="deduplicated"} 1.0' in text
    assert 'ghapp_queue_depth{status="pending"} 2.0' in text
    assert "ghapp_queue_oldest_age_seconds " in text


def test_github_calls_findings_and_jobs_are_counted() -> None:
    metrics = Metrics()
    metrics.count_github_call("GET", 200, "4999", installation="42")
    metrics.count_findings(["scan/missing-sast", "scan/missing-sast", "k8s/latest-tag"])
    metrics.count_job("done", "pull_request", 0.3)
    value = metrics.registry.get_sample_value
    assert value("ghapp_github_api_calls_total", {"method": "GET", "status": "200"}) == 1
    assert value("ghapp_github_rate_limit_remaining", {"installation": "42"}) == 4999
    assert value("ghapp_findings_total", {"rule": "scan/missing-sast"}) == 2
    assert value("ghapp_job_duration_seconds_count", {"event": "pull_request"}) == 1


def test_a_scrape_still_answers_when_the_database_is_down() -> None:
    metrics = Metrics()
    metrics.watch_queue(Queue(make_engine("postgresql://postgres@127.0.0.1:1/none")))
    metrics.count_delivery("received", "push")
    response = scrape(metrics)
    assert response.status_code == 200
    assert "ghapp_queue_depth" not in response.text
    assert "ghapp_deliveries_total" in response.text
