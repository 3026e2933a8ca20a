"""Liveness, readiness and the API description."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from marshmallow import Schema, fields

from service.api import Blueprint
from service.auth import public
from service.context import services
from service.errors import ServiceUnavailable
from service.openapi import served_document

bp = Blueprint(
    "health",
    __name__,
    description=(
        "Liveness, readiness, Prometheus metrics, and this description with its interactive "
        "docs (Swagger UI)."
    ),
)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok", "ready"]})


@bp.get("/healthz")
@bp.response(200, HealthSchema, description="The process is up.")
@public
def healthz() -> dict[str, Any]:
    """Liveness

    The process answers (nothing else is checked: a restart would not fix Redis).
    """
    return {"status": "ok"}


@bp.get("/readyz")
@bp.response(200, HealthSchema, description="Ready to take jobs.")
@bp.problems(503)
@public
def readyz() -> dict[str, Any]:
    """Readiness

    Ready to take jobs: Redis answers.
    """
    try:
        services().jobs.ping()
    except ServiceUnavailable:
        raise ServiceUnavailable("Not ready: the job store (Redis) does not answer.") from None
    return {"status": "ready"}


@bp.get("/openapi.yaml")
@bp.response(200, {"type": "string"}, content_type="application/yaml", description="YAML.")
@public
def openapi() -> Response:
    """The API description (YAML)

    This document, generated from the schemas that validate each request, under the
    settings the service runs with: the limits it states are the limits in force.
    """
    return Response(served_document(current_app, "yaml"), mimetype="application/yaml")


@bp.get("/openapi.json")
@bp.response(200, {"type": "object"}, description="JSON.")
@public
def openapi_json() -> Response:
    """The API description (JSON)

    The same document as `/openapi.yaml`, as JSON.
    """
    return Response(served_document(current_app, "json"), mimetype="application/json")
