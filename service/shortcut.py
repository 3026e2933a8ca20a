"""The prediction routes' shortcut: `POST /v1/models/{ref}/predict` (ours) and
`POST /v1/models/{ref}:predict` (TF Serving's) answered straight from WSGI when the
request is one the app would answer 200.

A one-row prediction spent ~400 µs in the Flask app, twice a Flask no-op view's, most
of it in machinery a prediction does not use: the request context and its proxies,
flask-smorest's argument and response wrappers (webargs, marshmallow), eight hooks. This
middleware answers such a request with the parts the app itself uses, each called
once: the app's URL map (its `ref` converter), the route's wire format
(service.serving.Wire: its request schema, loaded under the app's limits, and its
answer), the API keys' check, the one prediction path (service.serving.run), the app's
JSON encoder, and the same metrics, request ID and rollout accounting.

It only ever answers 200. Anything else goes on to the Flask app as it came, the body
handed on as read: another route or method, a body that is not plain JSON or that the
schema or the model refuses, a missing or wrong key, any error at all. So every
refusal and problem is still the app's, written once, and a request the shortcut
cannot answer costs one more parse, never another answer (tests compare the two).
"""

from __future__ import annotations

import functools
import io
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError
from prometheus_client import Counter, Histogram
from werkzeug.exceptions import HTTPException

from service import metrics, serving
from service.api import PARSED
from service.auth import ApiKeys, required_scope
from service.bodies import parse_json
from service.context import EXTENSION, Services
from service.errors import ServiceError
from service.limits import limits_of
from service.logs import bind_request_id, request_id_from, unbind_request_id
from service.request_ids import HEADER as REQUEST_ID
from service.rollouts.routing import ROUTING_HEADER
from service.routes import models, tfserving
from service.serving import Wire

if TYPE_CHECKING:
    from flask import Flask

# The JSON prediction routes, by endpoint, with their wire formats. KServe V2's route
# is not one: its requests may carry binary tensors after their JSON.
WIRES = {
    "models.predict": models.WIRE,
    "tfserving.predict": tfserving.WIRE,
    "tfserving.predict_version": tfserving.WIRE,
}
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
log = logging.getLogger(__name__)


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


_ROUTING_KEY, _REQUEST_ID = _environ_key(ROUTING_HEADER), _environ_key(REQUEST_ID)


@dataclass(frozen=True)
class _Route:
    """One prediction route, bound once: its wire format, a schema to load its body,
    the scope it needs, its request timer (for 200s) and its rows counter."""

    wire: Wire
    schema: Schema
    needed: str
    timer: Histogram
    rows: Counter

    @classmethod
    def of(cls, app: Flask, endpoint: str) -> _Route:
        wire = WIRES[endpoint]
        label = metrics.route_label(next(app.url_map.iter_rules(endpoint)))
        return cls(
            wire,
            wire.schema(),
            required_scope(app.view_functions[endpoint]),
            metrics.http_timer(label, "POST", 200),
            metrics.predicted_rows(wire.protocol, label),
        )


class PredictShortcut:
    """WSGI middleware around the app's `wsgi_app`: install it last, once every
    route is registered (`app.wsgi_app = PredictShortcut(app, keys)`)."""

    def __init__(self, app: Flask, keys: ApiKeys) -> None:
        self.app: WSGIApp = app.wsgi_app
        self.services: Services = app.extensions[EXTENSION]
        self.keys = keys
        self.encode = app.json.encode  # type: ignore[attr-defined]
        self.routes = {e: _Route.of(app, e) for e in WIRES if e in app.view_functions}
        # The map has no host rules: the name bound is never looked at. Matching costs
        # ~15 µs, a tenth of the answer; its result for a path never changes, and the
        # paths asked for are a few per model: the last few thousand are remembered.
        urls = app.url_map.bind("localhost")
        self.match = functools.lru_cache(maxsize=4096)(lambda path: urls.match(path, method="POST"))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if environ["REQUEST_METHOD"] != "POST" or not path.endswith("predict"):
            return self.app(environ, start_response)
        started = time.perf_counter()
        raw = _plain_body(environ, path, self.services.settings.max_body_bytes)
        if raw is None:
            return self.app(environ, start_response)
        request_id = request_id_from(environ.get(_REQUEST_ID))
        token = bind_request_id(request_id)
        try:
            answer = self._answer(environ, path, raw, request_id, started)
        except (ServiceError, ValidationError, HTTPException):
            answer = None  # a refusal: the app words it
        except Exception:
            log.warning("the prediction shortcut failed; the app answers", exc_info=True)
            answer = None
        finally:
            unbind_request_id(token)
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(raw)
            return self.app(environ, start_response)
        encoded, job_id = answer
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(encoded))),
                (serving.MODEL_HEADER, job_id),
                (REQUEST_ID, request_id),
            ],
        )
        return [encoded]

    def _answer(
        self, environ: dict[str, Any], path: str, raw: bytes, request_id: str, started: float
    ) -> tuple[bytes, str] | None:
        """The answer's body and the job that answered; None where the request is
        another route's. Raises whatever refuses it."""
        endpoint, args = self.match(path)
        route = self.routes.get(endpoint)
        if route is None:
            return None
        self.keys.check(environ.get("HTTP_AUTHORIZATION", ""), route.needed)
        environ[PARSED] = parse_json(raw)  # kept for the app, should it answer instead
        with limits_of(self.services.settings):
            body = route.schema.load(environ[PARSED])
        rows, rows_path, wanted = route.wire.inputs(body)
        routed = self.services.route(args["ref"], environ.get(_ROUTING_KEY))
        serving.run(self.services, routed, rows, rows_path, wanted)
        encoded = self.encode(route.wire.answer(routed, body))
        route.rows.inc(len(routed.batch))
        seconds = time.perf_counter() - started
        route.timer.observe(seconds)
        self.services.traffic.observe(routed, 200, seconds, request_id)
        return encoded, routed.job_id


def _plain_body(environ: dict[str, Any], path: str, max_bytes: int) -> bytes | None:
    """The body of a request to an ASCII `path` that announced its length, within
    `max_bytes`, as plain JSON (no Content-Encoding or Transfer-Encoding); None, and
    nothing read, for any other (the app decides about it)."""
    length = environ.get("CONTENT_LENGTH") or ""
    content_type = environ.get("CONTENT_TYPE") or ""
    if (
        not length.isdigit()
        or int(length) > max_bytes
        or content_type.partition(";")[0].strip().lower() != "application/json"
        or "HTTP_CONTENT_ENCODING" in environ
        or "HTTP_TRANSFER_ENCODING" in environ
        or not path.isascii()
    ):
        return None
    return environ["wsgi.input"].read(int(length))
