"""/metrics: Prometheus's text exposition of the service's metrics (service.metrics)."""

from __future__ import annotations

from flask import Response

from service.api import Blueprint
from service.auth import READ, requires
from service.context import services
from service.metrics import CONTENT_TYPE, exposition

bp = Blueprint("metrics", __name__, description="Prometheus metrics.")


@bp.get("/metrics")
@bp.response(200, {"type": "string"}, content_type="text/plain", description="The text exposition.")
@requires(READ)
def metrics() -> Response:
    """Prometheus metrics

    The service's metrics in Prometheus's text format: request latencies by route,
    predicted rows, model cache and loads, jobs by status, queue depths, training
    durations. Aggregate counts only (no job IDs or data), but they tell how the service
    is used, so with API keys configured a scraper needs a `read` key, like any reader.
    """
    return Response(exposition(services().jobs), content_type=CONTENT_TYPE)
