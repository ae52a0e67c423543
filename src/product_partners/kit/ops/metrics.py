"""Prometheus metrics at ``GET /metrics`` (text exposition format, ``prometheus_client``).

- ``product_partners_http_requests_total{method,route,status}``: requests answered.
- ``product_partners_http_request_duration_seconds{method,route,status}``: latency histogram.
  ``route`` is the path template (``/v3/products/{product_id}/partners``), or ``unmatched``
  for paths no route serves, so the number of series stays bounded.
- ``product_partners_partnerships{status}``: product partnerships by status, counted with one
  ``GROUP BY`` query when scraped (nothing is kept in the process).
- ``product_partners_database_up``: 1 when that query succeeded.
- ``product_partners_database_statement_timeouts_total``: requests answered 503 because a
  statement exceeded ``DATABASE_STATEMENT_TIMEOUT``.

Several worker processes: ``prometheus_client``'s multiprocess mode. When
``PROMETHEUS_MULTIPROC_DIR`` is set (``serve --workers N`` with N > 1 sets it to a fresh
directory if you did not), every worker writes its counters to files there and any worker's
``/metrics`` sums them all. Without it, each process reports only its own requests.
"""

import asyncio
import logging
import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from product_partners.db.tables import product_partners

log = logging.getLogger("product_partners.metrics")

# The "_created" series double the output and no dashboard of ours reads them.
disable_created_metrics()

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PARTNERSHIP_STATUSES = ("pending", "approved", "rejected", "banned")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_COUNT_BY_STATUS = select(product_partners.c.affiliate_status, func.count()).group_by(
    product_partners.c.affiliate_status
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The app's request metrics, in a registry of its own (several apps may share a process,
    as in tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "product_partners_http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "product_partners_http_request_duration_seconds",
            "Time to answer HTTP requests, by method, route template and status.",
            labels,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.statement_timeouts = Counter(
            "product_partners_database_statement_timeouts",
            "Requests answered 503 because a database statement exceeded"
            " DATABASE_STATEMENT_TIMEOUT (or, on SQLite, waited that long for a lock).",
            registry=self.registry,
        )
        # Label lookups cost more than the increments: keep each series' children at hand.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in _METHODS:
            method = "OTHER"
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            labels = (method, route, str(status))
            series = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def render_requests(self) -> bytes:
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)


class _Fixed:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


async def _partnership_families(request: Request) -> list[Metric]:
    engine = request.app.state.engine
    timeout = request.app.state.settings.database_timeout
    up = GaugeMetricFamily(
        "product_partners_database_up", "1 when the database answered the scrape's query."
    )
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            rows = (await conn.execute(_COUNT_BY_STATUS)).all()
    except Exception as exc:  # noqa: BLE001 - a scrape reports the outage, it does not fail
        log.warning("metrics: partnership counts unavailable: %s", type(exc).__name__)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    counts = dict.fromkeys(PARTNERSHIP_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    partnerships = GaugeMetricFamily(
        "product_partners_partnerships", "Product partnerships by status.", labels=["status"]
    )
    for status, count in sorted(counts.items()):
        partnerships.add_metric([status], count)
    return [partnerships, up]


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus scrape target (not part of the v3 API; keep it off the public internet)."""
    metrics: Metrics = request.app.state.metrics
    body = metrics.render_requests()
    scrape_time = CollectorRegistry(auto_describe=False)
    scrape_time.register(_Fixed(await _partnership_families(request)))
    body += generate_latest(scrape_time)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
