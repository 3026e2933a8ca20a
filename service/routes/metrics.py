"""/metrics: Prometheus's text exposition of the service's metrics (service.metrics)."""

from __future__ import annotations

from flask import Blueprint, Response

from service.auth import READ, requires
from service.context import services
from service.metrics import CONTENT_TYPE, exposition

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@requires(READ)
def metrics() -> Response:
    """Aggregate counts only (routes as URL rules, no job IDs or data), but they tell
    how the service is used, so with API keys configured a scraper needs a read key
    (Prometheus: `authorization: {credentials_file: ...}`), like any other reader."""
    return Response(exposition(services().jobs), content_type=CONTENT_TYPE)
