"""GET /metrics: the service's figures in the Prometheus text format (docs/operations.md, "Monitoring").

Counted here: requests by URL rule (never the raw path, which holds case ids), method and status, with their
latency; transitions by workflow and action, refusals by code and timer sweeps, which the engine reports through
`workflow.engine.observe`. Read at each scrape: overdue cases per workflow and the timer sweep's lag. No label
carries case data: workflow keys, action names and refusal codes come from the definitions and the engine.

Under gunicorn each worker counts for itself; with PROMETHEUS_MULTIPROC_DIR set (before the process starts, to
an empty directory shared by the server's workers and the timer workers on that machine), prometheus-client
keeps the counts in files there and a scrape of any worker adds them all up.

Served only when METRICS_TOKEN is set, and then only to a request bearing it (`Authorization: Bearer …`):
unset, /metrics is a 404 like any unknown page.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator

from flask import Flask, abort, current_app, g, request
from flask.wrappers import Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import INF

from workflow.engine import observe
from workflow.engine.refusals import CODES

from .extensions import db_session

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "<unmatched>"  # the route label of a request no URL rule matched (a 404): one series, not one per path

REQUESTS = Counter("workflow_http_requests", "HTTP requests answered, by URL rule, method and status",
                   ["route", "method", "status"])
LATENCY = Histogram("workflow_http_request_duration_seconds", "Time to answer an HTTP request, by URL rule",
                    ["route", "method"])
TRANSITIONS = Counter("workflow_transitions", "Committed transitions, by workflow and action", ["workflow", "action"])
REFUSALS = Counter("workflow_refusals", "Steps refused by the engine, by refusal code", ["code"])
SWEEP = Histogram("workflow_timer_sweep_duration_seconds", "Time a timer sweep took (all cases due at its start)",
                  buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, INF))
SWEPT = Counter("workflow_timer_swept_cases", "Cases handled by timer sweeps")

for _code in CODES:  # every code is a series from the start, so that a rate over it never begins missing
    REFUSALS.labels(_code)


def _moved(workflow: str, action: str) -> None:
    TRANSITIONS.labels(workflow, action).inc()


def _refused(code: str) -> None:
    REFUSALS.labels(code).inc()


def _swept(seconds: float, cases: int) -> None:
    SWEEP.observe(seconds)
    SWEPT.inc(cases)


class Figures(Collector):
    """What a scrape reads from the database rather than counts: the same answer whichever worker is asked."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = observe.figures(db_session(), current_app.extensions["workflow_clock"].now())
        overdue = GaugeMetricFamily("workflow_cases_overdue", "Open cases with an overdue timer, by workflow",
                                    labels=["workflow"])
        for workflow, count in figures.overdue.items():
            overdue.add_metric([workflow], count)
        yield overdue
        yield GaugeMetricFamily("workflow_timer_sweep_lag_seconds",
                                "Now minus the oldest timer moment no sweep has handled yet (0: none waits)",
                                value=figures.sweep_lag.total_seconds())


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
    return response


def _authorized() -> bool:
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    if not token:
        abort(404)
    offered = request.headers.get("Authorization", "")
    return hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())


def metrics() -> Response:
    if not _authorized():
        return Response("A valid METRICS_TOKEN is required\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'},
                        mimetype="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]  # untyped in the library
    else:
        counted = REGISTRY
    read = CollectorRegistry()
    read.register(Figures())
    return Response(generate_latest(counted) + generate_latest(read), mimetype=None, content_type=CONTENT_TYPE)


def init_app(app: Flask) -> None:
    """Count every request from its first hook on, hear the engine, and serve GET /metrics."""
    # First of the before-request hooks, so that requests refused by an earlier one (web/limits.py) are timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_count)
    observe.on_move(_moved)
    observe.on_refusal(_refused)
    observe.on_sweep(_swept)
    app.add_url_rule("/metrics", "metrics", metrics)
