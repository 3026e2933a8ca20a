"""Request helpers shared by the blueprints."""

from __future__ import annotations

from typing import Any

from flask import request

from service.errors import MalformedRequest, NotFound, UnsupportedMediaType
from service.ml.artifacts import is_job_id


def json_body() -> Any:
    """The request's JSON body, or a 415 / 400 problem that says what was wrong."""
    if not request.is_json:
        received = request.mimetype or "no Content-Type"
        raise UnsupportedMediaType(
            f"Expected Content-Type: application/json. Received: {received}."
        )
    body = request.get_json(silent=True)
    if body is None:
        raise MalformedRequest("The request body is not valid JSON.")
    return body


def checked_job_id(job_id: str) -> str:
    """A job ID from a URL path; anything not shaped like one is a plain 404."""
    if not is_job_id(job_id):
        raise NotFound(f"No job {job_id!r}: job IDs are UUIDs.")
    return job_id
