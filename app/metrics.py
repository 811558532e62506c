"""Prometheus metrics: HTTP requests by endpoint and status, durable jobs by status.

Request metrics are recorded by the web process (`observe_request`, called from the
health blueprint's request hooks). Job counts are read from the jobs table at scrape time,
so every web process reports the same numbers whichever worker did the work.

With several gunicorn workers set `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's own
variable; `certprep serve` does it) and `render_metrics` merges every worker's counters.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# The process's own metrics; a private registry so tests building many apps in one
# process never register a metric twice.
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "certprep_http_requests",
    "HTTP requests answered, by endpoint (URL rule), method and status code.",
    ["endpoint", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "certprep_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint (URL rule) and method.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)

# Requests that matched no URL rule share one label value, so probing random paths cannot
# grow the number of time series.
UNMATCHED_ENDPOINT = "<unmatched>"

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Returns ({status: rows}, overdue rows).
JobCounter = Callable[[], tuple[dict[str, int], int]]


# The labelled series of each (endpoint, method, status), looked up once: `labels()` checks
# and converts its arguments on every call. Bounded like the series themselves (URL
# rules x methods x status codes).
_REQUEST_SERIES: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    """Count one answered request and record how long it took."""
    key = (endpoint or UNMATCHED_ENDPOINT, method, status)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        label = key[0]
        series = (
            HTTP_REQUESTS.labels(endpoint=label, method=method, status=str(status)),
            HTTP_LATENCY.labels(endpoint=label, method=method),
        )
        _REQUEST_SERIES[key] = series
    series[0].inc()
    series[1].observe(seconds)


class JobCountCollector(Collector):
    """Reports the jobs table at scrape time: rows per status and rows past their deadline.

    `count_jobs` returns `(counts_by_status, overdue)`; it runs inside the request's app
    context. A failing query leaves the job metrics out of the scrape instead of failing it.
    """

    def __init__(self, count_jobs: JobCounter) -> None:
        self._count_jobs = count_jobs

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts, overdue = self._count_jobs()
        except Exception:
            return
        by_status = GaugeMetricFamily(
            "certprep_jobs", "Durable jobs in the jobs table, by status.", labels=["status"]
        )
        for status, count in sorted(counts.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily(
            "certprep_jobs_overdue",
            "Pending or running jobs past their deadline (the sweeper's next work).",
            value=overdue,
        )

    def describe(self) -> list:
        # Described as empty so registering never triggers a scrape (and a query).
        return []


def render_metrics(count_jobs: JobCounter) -> tuple[bytes, str]:
    """The Prometheus text exposition for this process (or all gunicorn workers when
    `PROMETHEUS_MULTIPROC_DIR` is set) plus the job gauges; returns (body, content type)."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(JobCountCollector(count_jobs))
    return generate_latest(registry), CONTENT_TYPE


class _ProcessMetrics(Collector):
    """Exposes `REGISTRY` through a scrape-time registry."""

    def collect(self):
        yield from REGISTRY.collect()

    def describe(self) -> list:
        return []
