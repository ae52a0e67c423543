"""Prometheus metrics at ``GET /metrics`` (text exposition format, ``prometheus_client``).

- ``product_partners_http_requests_total{method,route,status}``: requests answered.
- ``product_partners_http_request_duration_seconds{method,route,status}``: latency histogram.
  ``route`` is the path template (``/v3/products/{product_id}/partners``), or ``unmatched``
  for paths no route serves, so the number of series stays bounded.
- gauges counted by the database when scraped (:class:`DatabaseGauge`; nothing is kept in the
  process), which the domains declare: ``product_partners_partnerships{status}``
  (``partnerships.metrics``).
- ``product_partners_database_up``: 1 when those queries succeeded.
- ``product_partners_database_statement_timeouts_total``: requests answered 503 because a
  statement exceeded ``DATABASE_STATEMENT_TIMEOUT``.
- with read replicas (``DATABASE_REPLICA_URLS``): ``product_partners_database_reads_total
  {served_by}`` (GET requests by the database that served them, ``primary`` or ``replica``),
  and, as this process's monitor last saw them, ``product_partners_database_replica_up
  {replica}``, ``product_partners_database_replica_lag_seconds{replica}`` and
  ``product_partners_database_replica_lag_bytes{replica}`` (no sample while it is down).

Several worker processes: ``prometheus_client``'s multiprocess mode. When
``PROMETHEUS_MULTIPROC_DIR`` is set (``serve --workers N`` with N > 1 sets it to a fresh
directory if you did not), every worker writes its counters to files there and any worker's
``/metrics`` sums them all. Without it, each process reports only its own requests.
"""

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
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
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger("product_partners.metrics")

# The "_created" series double the output and no dashboard of ours reads them.
disable_created_metrics()

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class DatabaseGauge:
    """A gauge counted by the database at scrape time. With a ``label``, ``statement``
    returns (label value, count) rows and every one of ``label_values`` is reported, 0 when it
    has no row; without, it returns one count. ``statement`` may be a function of the
    database's dialect name that returns it."""

    name: str
    documentation: str
    statement: Any
    label: str | None = None
    label_values: Sequence[str] = ()

    def statement_for(self, dialect: str) -> Any:
        return self.statement(dialect) if callable(self.statement) else self.statement

    def family(self, rows: Sequence[Any]) -> GaugeMetricFamily:
        if self.label is None:
            family = GaugeMetricFamily(self.name, self.documentation)
            family.add_metric([], rows[0][0] if rows else 0)
            return family
        counts = dict.fromkeys(self.label_values, 0)
        counts.update({str(value): count for value, count in rows})
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, count in sorted(counts.items()):
            family.add_metric([value], count)
        return family


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
        self.reads = Counter(
            "product_partners_database_reads",
            "GET requests that read the database, by the database that served them"
            " (primary or replica).",
            ("served_by",),
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


async def _database_families(request: Request) -> list[Metric]:
    engine = request.app.state.engine
    timeout = request.app.state.settings.database_timeout
    gauges: Sequence[DatabaseGauge] = request.app.state.database_gauges
    up = GaugeMetricFamily(
        "product_partners_database_up", "1 when the database answered the scrape's queries."
    )
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            dialect = conn.dialect.name
            results = [(await conn.execute(g.statement_for(dialect))).all() for g in gauges]
    except Exception as exc:  # noqa: BLE001 - a scrape reports the outage, it does not fail
        log.warning("metrics: database gauges unavailable: %s", type(exc).__name__)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    families = [gauge.family(rows) for gauge, rows in zip(gauges, results, strict=True)]
    return [*families, up]


def _replica_families(request: Request) -> list[Metric]:
    replicas = getattr(request.app.state, "replicas", None)
    if replicas is None:
        return []
    prefix = "product_partners_database_replica"
    up = GaugeMetricFamily(f"{prefix}_up", "1 when the replica answers.", labels=["replica"])
    seconds = GaugeMetricFamily(
        f"{prefix}_lag_seconds",
        "Seconds since the primary reached a position the replica has not replayed yet.",
        labels=["replica"],
    )
    size = GaugeMetricFamily(
        f"{prefix}_lag_bytes", "WAL bytes the replica has not replayed yet.", labels=["replica"]
    )
    for status in replicas.status():
        up.add_metric([status["replica"]], 1 if status["up"] else 0)
        if status["lag_seconds"] is not None:
            seconds.add_metric([status["replica"]], status["lag_seconds"])
            size.add_metric([status["replica"]], status["lag_bytes"])
    return [up, seconds, size]


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus scrape target (not part of the v3 API; keep it off the public internet)."""
    metrics: Metrics = request.app.state.metrics
    body = metrics.render_requests()
    scrape_time = CollectorRegistry(auto_describe=False)
    families = await _database_families(request)
    scrape_time.register(_Fixed([*families, *_replica_families(request)]))
    body += generate_latest(scrape_time)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
