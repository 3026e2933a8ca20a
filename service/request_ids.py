"""X-Request-ID: taken from the client when valid, else generated; set for the
request's log lines, returned on every response (problems included) and stored with
a job it submits (service.jobs), so the worker's lines for that job carry it too."""

from __future__ import annotations

from flask import Flask, Response, g, request

from service.logs import bind_request_id, request_id_from, unbind_request_id

HEADER = "X-Request-ID"


def install(app: Flask) -> None:
    """Register the hooks; call before any other before_request hook (authorization
    included), so that a request refused by one still has its ID."""
    app.before_request(_begin)
    app.after_request(_answer)
    app.teardown_request(_end)


def _begin() -> None:
    request_id = request_id_from(request.headers.get(HEADER))
    g.request_id, g.request_id_token = request_id, bind_request_id(request_id)


def _answer(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is not None:
        response.headers[HEADER] = request_id
    return response


def _end(_exc: BaseException | None) -> None:
    # gunicorn's threads serve one request after another: leave nothing for the next.
    token = g.pop("request_id_token", None)
    if token is not None:
        unbind_request_id(token)
