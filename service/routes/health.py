"""Liveness, readiness and the API description."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, send_file
from flask.typing import ResponseReturnValue

from service.auth import public
from service.context import services
from service.errors import ServiceUnavailable

bp = Blueprint("health", __name__)
OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"


@bp.get("/healthz")
@public
def healthz() -> dict[str, Any]:
    """The process is up (nothing else is checked: a restart would not fix Redis)."""
    return {"status": "ok"}


@bp.get("/readyz")
@public
def readyz() -> dict[str, Any]:
    """Ready to take jobs: Redis answers."""
    try:
        services().jobs.ping()
    except Exception as exc:
        raise ServiceUnavailable("Not ready: the job store (Redis) does not answer.") from exc
    return {"status": "ready"}


@bp.get("/openapi.yaml")
@public
def openapi() -> ResponseReturnValue:
    return send_file(OPENAPI, mimetype="application/yaml")
