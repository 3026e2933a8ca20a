"""Prometheus metrics of the API, served at /metrics.

Counters and histograms are updated by the process that handles the request. Under
gunicorn each worker process writes its values to files in PROMETHEUS_MULTIPROC_DIR
(set up by service/gunicorn_conf.py) and a scrape, answered by any one process, sums
them all. Jobs, queues and training durations live in Redis, not in any process, so
they are read from Redis at scrape time (`RedisCollector`): the same answer from every
process, and a scrape that still answers, without them, while Redis is down.

Labels are bounded: the route is the URL rule as the API description writes it
(`/v1/models/{ref}/predict`), never the path, and an unknown method is `other`.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString
from werkzeug.routing import Rule

from service.errors import StoreUnavailable
from service.store.jobs import JobQueue

# The classic text format, which every Prometheus version reads (generate_latest's).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
PREFIX = "keras_service"
UNMATCHED = "unmatched"  # the route label of requests no rule matched (404, 405)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
log = logging.getLogger(__name__)

# A predict answers in ~0.5 ms and a long-poll in up to 60 s: buckets span both.
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
HTTP_SECONDS = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time from a request's first hook to its response, by route (URL rule), method and "
    "status; its _count is the number of requests.",
    ["route", "method", "status"],
    buckets=_HTTP_BUCKETS,
)
PREDICT_ROWS = Counter(
    f"{PREFIX}_predict_rows",
    "Rows predicted, by protocol (native, tfserving, kserve) and route.",
    ["protocol", "route"],
)
CACHE_LOOKUPS = Counter(
    f"{PREFIX}_model_cache_lookups",
    "Models asked of this process's cache: hit (already loaded) or miss.",
    ["result"],
)
MODEL_LOADS = Counter(
    f"{PREFIX}_model_loads", "Models loaded from the artifact store: ok or error.", ["result"]
)
MODEL_LOAD_SECONDS = Histogram(
    f"{PREFIX}_model_load_seconds",
    "Time to load a model that loaded.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CACHE_BYTES = Gauge(
    f"{PREFIX}_model_cache_bytes",
    "Bytes of the models loaded in API processes (each counted as its ONNX file), summed "
    "over the live processes; bounded per process by MODEL_CACHE_BYTES.",
    multiprocess_mode="livesum",
)
ALIAS_SECONDS = Histogram(
    f"{PREFIX}_alias_request_duration_seconds",
    "Predictions through aliases, by alias, answering job and role (target, or shadow: "
    "the mirrored run); its _count is the number of requests.",
    ["alias", "job_id", "role"],
    buckets=_HTTP_BUCKETS,
)
ALIAS_ERRORS = Counter(
    f"{PREFIX}_alias_request_errors",
    "Predictions through aliases that failed (4xx or 5xx), by alias, job and role.",
    ["alias", "job_id", "role"],
)
SHADOW_ROWS = Counter(
    f"{PREFIX}_shadow_rows",
    "Rows a shadow predicted beside the primary: compared, and agreed (the same class).",
    ["alias", "job_id", "result"],
)
SHADOW_DIFFERENCE = Counter(
    f"{PREFIX}_shadow_abs_difference",
    "Summed absolute difference of a regression shadow's outputs from the primary's "
    "(each row's mean); divide by the compared rows for the mean.",
    ["alias", "job_id"],
)
SHADOW_DROPPED = Counter(
    f"{PREFIX}_shadow_dropped",
    "Mirrored requests dropped because a process's shadow queue was full.",
    ["alias"],
)
PAYLOADS_DROPPED = Counter(
    f"{PREFIX}_payload_records_dropped",
    "Sampled payload records dropped because a process's payload log queue was full.",
)
# Bound once: `labels()` validates and locks on every call; the hot path skips it.
_HITS, _MISSES = CACHE_LOOKUPS.labels("hit"), CACHE_LOOKUPS.labels("miss")
_LOADS_OK, _LOADS_FAILED = MODEL_LOADS.labels("ok"), MODEL_LOADS.labels("error")


def instrument(app: Flask) -> None:
    """Time every request; call before the authorization hook, so refusals count."""
    app.before_request(_start)
    app.after_request(_observe)


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is None:
        return response
    current = request._get_current_object()  # one context lookup, not one per attribute
    method = current.method if current.method in _METHODS else "other"
    timer = http_timer(route_label(current.url_rule), method, response.status_code)
    timer.observe(time.perf_counter() - started)
    return response


def http_timer(route: str, method: str, status: int) -> Histogram:
    """The request-duration histogram of one route, method and status, bound once."""
    key = (route, method, status)
    timer = _timers.get(key)
    if timer is None:  # the first such request: a few hundred keys at most
        timer = _timers.setdefault(key, HTTP_SECONDS.labels(route, method, str(status)))
    return timer


# Bound histograms by (route, method, status), sparing `labels()` on every request;
# every label is bounded, so is this.
_timers: dict[tuple[str, str, int], Histogram] = {}


def route_label(rule: Rule | None) -> str:
    """A URL rule as the API description writes its path (`/v1/models/{ref}/predict`)."""
    if rule is None:
        return UNMATCHED
    found = _routes.get(rule.rule)
    if found is None:  # once per rule: a few dozen
        found = _routes.setdefault(rule.rule, _PARAMETER.sub(r"{\1}", rule.rule))
    return found


# `<converter(args):name>` -> `{name}`, as OpenAPI writes a path template.
_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_routes: dict[str, str] = {}


def count_predicted_rows(protocol: str, rows: int) -> None:
    """Count the rows a predict request of `protocol` was answered for."""
    predicted_rows(protocol, route_label(request.url_rule)).inc(rows)


def predicted_rows(protocol: str, route: str) -> Counter:
    """The counter of rows predicted by one protocol's route."""
    return PREDICT_ROWS.labels(protocol, route)


def cache_lookup(hit: bool) -> None:
    """ModelCache's lookup hook."""
    (_HITS if hit else _MISSES).inc()


def cache_weight(nbytes: int) -> None:
    """ModelCache's weight hook: the bytes of the models this process has loaded."""
    CACHE_BYTES.set(nbytes)


def model_loaded(seconds: float) -> None:
    _LOADS_OK.inc()
    MODEL_LOAD_SECONDS.observe(seconds)


def model_load_failed() -> None:
    _LOADS_FAILED.inc()


def alias_answered(alias: str, job_id: str, role: str, seconds: float, failed: bool) -> None:
    """One prediction through an alias, by the model that answered it."""
    key = (alias, job_id, role)
    timer = _alias_timers.get(key)
    if timer is None:  # bounded: an alias's targets and shadows over its history
        timer = _alias_timers.setdefault(key, ALIAS_SECONDS.labels(*key))
    timer.observe(seconds)
    if failed:
        ALIAS_ERRORS.labels(*key).inc()


_alias_timers: dict[tuple[str, str, str], Histogram] = {}


def shadow_compared(alias: str, job_id: str, counters: dict[str, float]) -> None:
    SHADOW_ROWS.labels(alias, job_id, "compared").inc(counters.get("compared", 0))
    if "agreed" in counters:
        SHADOW_ROWS.labels(alias, job_id, "agreed").inc(counters["agreed"])
    if "abs_difference_sum" in counters:
        SHADOW_DIFFERENCE.labels(alias, job_id).inc(counters["abs_difference_sum"])


def shadow_dropped(alias: str) -> None:
    SHADOW_DROPPED.labels(alias).inc()


def payload_dropped() -> None:
    PAYLOADS_DROPPED.inc()


class RedisCollector:
    """Jobs by status, queue depth and training durations, read from Redis at each
    scrape, with a gauge saying whether Redis answered."""

    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(f"{PREFIX}_job_store_up", "Whether Redis answered this scrape.")
        try:
            statuses, depths = self.jobs.census()
            trainings = self.jobs.training_durations()
        except StoreUnavailable:
            log.warning("metrics without the job store")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily(
            f"{PREFIX}_jobs",
            "Jobs in RQ's queues and registries by status (training jobs and export builds).",
            labels=["status"],
        )
        for status, count in statuses.items():
            jobs.add_metric([status], count)
        yield jobs
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "Jobs waiting for a worker, by queue.", labels=["queue"]
        )
        for priority, count in depths.items():
            depth.add_metric([priority], count)
        yield depth
        training = HistogramMetricFamily(
            f"{PREFIX}_training_seconds",
            "How long training jobs ran in a worker, by how they ended (observed by workers).",
            labels=["status"],
        )
        for outcome, histogram in trainings.items():
            buckets = [(floatToGoString(b), n) for b, n in histogram.buckets]
            training.add_metric([outcome], buckets, histogram.sum)
        yield training


def exposition(jobs: JobQueue) -> bytes:
    """The text exposition of every metric: this process's own, or with
    PROMETHEUS_MULTIPROC_DIR set every process's summed, then Redis's."""
    registry = CollectorRegistry(auto_describe=False)
    # The variable prometheus_client itself reads to choose its mode at import.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)  # a registry collects like any collector
    registry.register(RedisCollector(jobs))
    return generate_latest(registry)
