"""Request helpers shared by the blueprints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from service.aliases import is_alias_name
from service.context import services
from service.errors import (
    InvalidInput,
    InvalidRequest,
    MalformedRequest,
    NotFound,
    UnsupportedMediaType,
)
from service.ml.artifacts import is_job_id
from service.schemas import choice_message


def secure_pages(blueprint: Blueprint, img_src: str = "'self'") -> None:
    """Strict headers on a blueprint's HTML pages and assets: only this app's scripts,
    styles and API, no inline script, no framing (clickjacking), no MIME sniffing."""
    headers = {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {img_src}; "
            "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    @blueprint.after_request
    def _secure(response: Response) -> Response:
        response.headers.update(headers)
        return response


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 415 / 400 problem that says what was wrong."""
    if not request.is_json:
        received = request.mimetype or "no Content-Type"
        raise UnsupportedMediaType(
            f"Expected Content-Type: application/json. Received: {received}."
        )
    body = request.get_json(silent=True)
    if body is None:
        raise MalformedRequest("The request body is not valid JSON.")
    if not isinstance(body, dict):
        raise MalformedRequest(f"Expected a JSON object. Received: {type(body).__name__}.")
    return body


def check_fields(
    body: dict[str, Any],
    allowed: tuple[str, ...],
    required: tuple[str, ...],
    error: type[InvalidRequest] = InvalidInput,
) -> None:
    """422 (`error`) for a missing field, or one the endpoint does not know (naming the
    closest)."""
    errors = {k: [choice_message(k, allowed, "field")] for k in body if k not in allowed}
    errors |= {k: ["Missing data for required field."] for k in required if k not in body}
    if errors:
        raise error(errors)


def model_job_id(ref: str) -> str:
    """The job a model URL names: its job ID, or an alias pointing at one."""
    if is_job_id(ref):
        return ref
    if is_alias_name(ref):
        job_id = services().aliases.resolve(ref)
        if job_id is None:
            raise NotFound(f"No alias {ref!r}.")
        return job_id
    raise NotFound(f"No model {ref!r}: models are named by job ID (a UUID) or by an alias.")


def checked_job_id(job_id: str) -> str:
    """A job ID from a URL path; anything not shaped like one is a plain 404."""
    if not is_job_id(job_id):
        raise NotFound(f"No job {job_id!r}: job IDs are UUIDs.")
    return job_id
