"""The single error handler: any error becomes RFC 9457 problem+json.

Client mistakes keep their 4xx status and a detail a user can act on; Redis being
unreachable is a 503 with Retry-After (service.store raises it); anything unexpected
is a 500 whose detail says nothing about the server (the traceback goes to the log).
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from service import errors

log = logging.getLogger(__name__)

# Werkzeug's HTTP errors as ours: same status, our problem type and wording.
_HTTP_ERRORS: dict[int, type[errors.ServiceError]] = {
    400: errors.MalformedRequest,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
}


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(errors.ServiceError, problem_response)
    app.register_error_handler(HTTPException, _from_http_exception)
    app.register_error_handler(Exception, _unexpected)


# TF Serving and KServe V2 clients read an error's message from an "error" member.
_ERROR_MEMBER_BLUEPRINTS = {"tfserving", "kserve"}


def problem_response(error: errors.ServiceError) -> Response:
    # `instance` is a URI reference: the path as sent, percent-encoded again.
    problem = error.to_problem(instance=quote(request.path, safe="/:@!$&'()*+,;=~"))
    if request.blueprint in _ERROR_MEMBER_BLUEPRINTS:
        problem["error"] = error.detail
    response = current_app.json.response(problem)
    response.status_code = error.status
    response.mimetype = errors.PROBLEM_JSON
    response.headers.update(error.headers)
    return response


def _from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    error_class = _HTTP_ERRORS.get(status)
    if error_class is None:
        error = errors.ServiceError(exc.description or "")
        error.status, error.title = status, exc.name
    else:
        error = error_class(_http_detail(status, exc))
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        error.headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # type: ignore[attr-defined]
    return problem_response(error)


def _http_detail(status: int, exc: HTTPException) -> str:
    if status == 404:
        return f"No such resource: {request.path}."
    if status == 405:
        return f"{request.method} is not allowed on {request.path}."
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return f"The request body is over this service's limit of {limit:,} bytes (MAX_BODY_BYTES)."
    return exc.description or exc.name


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(errors.ServiceError("The server failed to handle this request."))
