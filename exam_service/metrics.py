"""The service's Prometheus metrics: what each instance counts and times, served at /metrics.

Every metric lives in prometheus-client's default registry, once per process (one app
instance is one process; tests that build many apps in one process share the counters
and compare before with after). The registry also carries prometheus-client's process
metrics (CPU seconds, resident memory, open files) and Python's garbage collector.

    exam_http_requests_total{method,route,status}            requests answered
    exam_http_request_duration_seconds{method,route,status}  their latency (histogram)
    exam_answer_saves_total                                   answers saved (acknowledged)
    exam_late_saves_total{attempt_status}                     saves refused with 409: closed
    exam_gradings_total{how}                                  attempts graded (submitted/expired)
    exam_grading_duration_seconds                             close + grade + commit (histogram)
    exam_sweep_lag_seconds                                    deadline + grace -> graded by a sweep
    exam_db_connections_in_use{pool}                          connections lent out now
    exam_db_connections_open{pool}                            connections the pool holds now
    exam_heavy_job_duration_seconds{kind,outcome}             a heavy job, queue wait included
    exam_heavy_jobs_in_flight                                 heavy jobs running or waiting
    exam_heavy_busy_total                                     heavy jobs refused with 503 Busy

`route` is the route's template (`/api/v1/attempts/{attempt_id}`), never the path, so the
number of series is bounded by the routes; requests that match no route count under
`route="(unmatched)"`. Pools: `orm` (SQLAlchemy's, for everything but saves) and
`answers` (the save path's own asyncpg pool, or its one SQLite connection).

This module imports nothing of Litestar, so the services (`exams/answers.py`,
`exams/closing.py`, `heavy.py`) count without depending on the web layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
"""Seconds; a save takes a few milliseconds, a PDF of a large cohort some seconds."""
LAG_BUCKETS = (0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600)
"""Seconds after deadline + grace; the sweep runs every EXAM_SWEEP_INTERVAL_SECONDS (15)."""
# The *_created series would double the output with nothing a scraper uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

HTTP_REQUESTS = Counter(
    "exam_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "exam_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method, route template "
    "and status",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
ANSWER_SAVES = Counter("exam_answer_saves", "Answers saved durably and acknowledged (200)")
LATE_SAVES = Counter(
    "exam_late_saves",
    "Saves refused with 409 because the attempt was closed (submitted, or past its "
    "deadline and grace)",
    ["attempt_status"],
)
GRADINGS = Counter("exam_gradings", "Attempts closed and graded by this instance", ["how"])
GRADING_DURATION = Histogram(
    "exam_grading_duration_seconds",
    "Closing and grading one attempt: the guarded update, the scoring and the commit",
    buckets=LATENCY_BUCKETS,
)
SWEEP_LAG = Histogram(
    "exam_sweep_lag_seconds",
    "Seconds from an attempt's deadline plus grace to its grading by the expiry sweep",
    buckets=LAG_BUCKETS,
)
HEAVY_JOB_DURATION = Histogram(
    "exam_heavy_job_duration_seconds",
    "Heavy jobs (PDFs, imports, exports, scans, answer CSVs) timed by the server, from "
    "submission to the worker process until the result is back, by job and outcome",
    ["kind", "outcome"],
    buckets=JOB_BUCKETS,
)
HEAVY_IN_FLIGHT = Gauge(
    "exam_heavy_jobs_in_flight", "Heavy jobs running in a worker process or waiting for one"
)
HEAVY_BUSY = Counter(
    "exam_heavy_busy", "Heavy jobs refused with 503 Busy because the pool and its queue were full"
)

PoolReading = tuple[str, int, int]
"""(pool name, connections in use, connections open)."""
PoolSource = Callable[[], list[PoolReading]]


class PoolCollector(Collector):
    """Reads the database pools of the process's apps when /metrics is scraped."""

    def __init__(self) -> None:
        self.sources: list[PoolSource] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        in_use = GaugeMetricFamily(
            "exam_db_connections_in_use",
            "Database connections lent out to a request or job right now, by pool",
            labels=["pool"],
        )
        opened = GaugeMetricFamily(
            "exam_db_connections_open",
            "Database connections the pool holds right now (idle and in use), by pool",
            labels=["pool"],
        )
        totals: dict[str, list[int]] = {}
        for source in list(self.sources):
            for name, used, held in source():
                total = totals.setdefault(name, [0, 0])
                total[0] += used
                total[1] += held
        for name, (used, held) in sorted(totals.items()):
            in_use.add_metric([name], used)
            opened.add_metric([name], held)
        yield in_use
        yield opened


POOLS = PoolCollector()
REGISTRY.register(POOLS)
