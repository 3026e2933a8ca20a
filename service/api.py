"""How routes declare their contract: flask-smorest's Blueprint and Api, with our parser,
our path converters and our one error shape.

A view declares what it takes with `@bp.arguments(Schema, location=...)` (the schema
loads and validates it: no view checks a field by hand) and what it answers with
`@bp.response(status, Schema)` and `@bp.problems(status, ...)`; the same declarations
generate the OpenAPI document (service.openapi). Request bodies are parsed once, by
orjson (service.bodies); a failed load is the schema's `problem` (a 422) with its
messages keyed by JSON path. Path parameters are matched by the converters here, which
load them with the marshmallow fields the bodies use: a job ID that is not a UUID does
not match its route (404), and one in upper case arrives in lower case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Request, current_app, request
from marshmallow import Schema, ValidationError, fields
from webargs.flaskparser import FlaskParser
from werkzeug.routing import BaseConverter

from service.bodies import parse_json
from service.config import Settings
from service.errors import MalformedRequest, UnsupportedMediaType
from service.limits import limits_of, unbounded
from service.openapi import PROBLEMS, Converter, problem_answers, register_documentation
from service.schemas.fields import (
    ALIAS,
    UUID,
    AliasName,
    JobId,
    ModelRef,
    flatten_errors,
    problem_of,
)
from service.schemas.kserve import HEADER_LENGTH

View = TypeVar("View", bound=Callable[..., Any])
SETTINGS = "KERAS_SERVICE_SETTINGS"  # app.config: the Settings the app runs with
# request.environ: the body, parsed once (as JSON, or as an inference request)
PARSED, _INFERENCE = "keras_service.json", "keras_service.inference"


class Parser(FlaskParser):
    """webargs' Flask parser with one JSON parse per body (orjson, bounded nesting),
    415 for a body that is not JSON, 400 for one that is not an object, the app's
    limits in force while a schema loads, and failures as the schema's problem. The
    `inference` location is the JSON part of an Open Inference Protocol request."""

    __location_map__ = {
        **FlaskParser.__location_map__,
        "inference": "load_inference",
        "any_json": "load_any_json",
    }

    def parse(self, argmap: Any, *args: Any, **kwargs: Any) -> Any:
        settings = current_app.config[SETTINGS]
        if getattr(argmap, "reports_limits", False):  # a dry run: over a limit is an answer
            settings = unbounded(settings)
        with limits_of(settings):
            return super().parse(argmap, *args, **kwargs)

    def load_json(self, req: Request, schema: Schema) -> Any:
        return json_object(req)

    def load_any_json(self, req: Request, schema: Schema) -> Any:
        """A JSON object whatever the Content-Type says: TF Serving's clients send
        none, and TF Serving reads the body as JSON anyway."""
        return json_object(req, any_type=True)

    def load_inference(self, req: Request, schema: Schema) -> Any:
        return inference_request(req)[0]

    def handle_error(
        self, error: ValidationError, req: Request, schema: Schema, **kwargs: Any
    ) -> None:
        # webargs files the messages under their location ({"json": {...}}); the path
        # inside it is what names the field.
        (messages,) = error.messages.values()  # type: ignore[union-attr]
        raise problem_of(schema)(flatten_errors(messages))


def json_object(req: Request, any_type: bool = False) -> dict[str, Any]:
    """The request's body as a JSON object, parsed once per request (`any_type`: even
    when its Content-Type is not JSON's)."""
    if not (req.is_json or any_type):
        received = req.mimetype or "no Content-Type"
        raise UnsupportedMediaType(
            f"Expected Content-Type: application/json. Received: {received}."
        )
    if PARSED not in req.environ:
        req.environ[PARSED] = parse_json(req.get_data(cache=True))
    body = req.environ[PARSED]
    if not isinstance(body, dict):
        kind = "null" if body is None else type(body).__name__
        raise MalformedRequest(f"Expected a JSON object. Received: {kind}.")
    return body


def inference_request(req: Request) -> tuple[dict[str, Any], bytes]:
    """An Open Inference Protocol request: its JSON header (the first
    Inference-Header-Content-Length bytes of the body, or all of it) and the binary
    tensor data after it."""
    if _INFERENCE not in req.environ:
        body = req.get_data(cache=True)
        length = req.headers.get(HEADER_LENGTH)
        if length is not None and (not length.isdigit() or int(length) > len(body)):
            raise MalformedRequest(f"{HEADER_LENGTH} must be a byte count within the body.")
        split = int(length) if length is not None else len(body)
        header = parse_json(body[:split])
        if not isinstance(header, dict):
            raise MalformedRequest("The inference request must be a JSON object.")
        req.environ[_INFERENCE] = (header, body[split:])
    return req.environ[_INFERENCE]


class Blueprint(flask_smorest.Blueprint):
    """A blueprint whose views declare their problems; `protocol` for the TF Serving and
    KServe routes, whose problems carry the `error` member their clients read."""

    ARGUMENTS_PARSER = Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "inference": "application/json",
        "any_json": "application/json",
    }

    def __init__(self, *args: Any, protocol: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.protocol = protocol
        self._prepare_doc_cbks.append(problem_answers)

    def arguments(self, schema: Any, **kwargs: Any) -> Callable[[View], View]:
        """flask-smorest's, with one schema instance per view: webargs would build a
        new one from a class on every request (~150 µs, the most of a prediction's
        parsing). Loading keeps no state in the schema, so threads share it."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)

    def alt_response(self, *args: Any, **kwargs: Any) -> Callable[[View], View]:
        """flask-smorest's, documenting without wrapping the view: its wrapper only
        carries documentation, yet costs every request a call (and a coroutine check)."""
        return _documenting(super().alt_response(*args, **kwargs))

    def doc(self, **kwargs: Any) -> Callable[[View], View]:  # type: ignore[override]
        """flask-smorest's, documenting without wrapping the view (as alt_response)."""
        return _documenting(super().doc(**kwargs))

    def problems(self, *statuses: int) -> Callable[[View], View]:
        """Document the problems (by status) a view may answer besides those every view
        of its kind may (service.openapi.problem_answers adds those)."""
        unknown = set(statuses) - set(PROBLEMS)
        if unknown:
            raise ValueError(f"No problem answer is described for {sorted(unknown)}.")

        def decorator(view: View) -> View:
            for status in statuses:
                view = self.alt_response(status, response=PROBLEMS[status][0])(view)
            return view

        return decorator

    def _store_endpoint_docs(self, endpoint: str, obj: Any, *args: Any, **kwargs: Any) -> None:
        super()._store_endpoint_docs(endpoint, obj, *args, **kwargs)
        for method, doc in self._docs[endpoint].items():
            if method != "parameters":
                doc["view"] = {
                    "blueprint": self.name,
                    "endpoint": endpoint,
                    "function": obj,
                    "protocol": self.protocol,
                }


def _documenting(decorator: Callable[[View], View]) -> Callable[[View], View]:
    """`decorator`'s documentation on the view itself, without its wrapper."""

    def document(view: View) -> View:
        view._apidoc = decorator(view)._apidoc  # type: ignore[attr-defined]
        return view

    return document


class _FieldConverter(BaseConverter):
    """A path segment matched by `regex` and loaded by the marshmallow field `field`
    (which also describes it in the API description)."""

    field: fields.Field

    def to_python(self, value: str) -> Any:
        return self.field.deserialize(value)


class JobIdConverter(_FieldConverter):
    regex = UUID
    field = JobId()


class DatasetIdConverter(_FieldConverter):
    regex = UUID
    field = JobId("dataset")


class SweepIdConverter(_FieldConverter):
    regex = UUID
    field = JobId("sweep")


class BatchIdConverter(_FieldConverter):
    regex = UUID
    field = JobId("batch prediction")


class RefConverter(_FieldConverter):
    regex = f"(?:{UUID}|{ALIAS})"
    field = ModelRef()


class AliasConverter(_FieldConverter):
    """Any segment, as sent: a name that is not a valid alias is a 422 that says what a
    name may be where one is being created (PUT loads it with AliasName), and a plain
    404, like any unknown alias, where one is being read."""

    regex = "[^/]+"
    field = AliasName()

    def to_python(self, value: str) -> str:
        return value


CONVERTERS = {
    "job_id": JobIdConverter,
    "dataset_id": DatasetIdConverter,
    "sweep_id": SweepIdConverter,
    "batch_id": BatchIdConverter,
    "ref": RefConverter,
    "alias": AliasConverter,
}


class Api(flask_smorest.Api):
    """flask-smorest's Api, documenting with our problem answers and the settings' limits
    in force; errors are handled by service.problems, not by flask-smorest."""

    DEFAULT_ERROR_RESPONSE_NAME = None  # every problem answer is listed by its status

    def _register_error_handlers(self) -> None:
        pass  # service.problems has the one handler

    def _register_responses(self) -> None:
        register_documentation(self.spec)

    def _register_etag_headers(self) -> None:
        pass  # our ETags are described where they are sent

    def _register_pagination_header(self) -> None:
        pass  # no paginated route

    def register_blueprint(self, blp: flask_smorest.Blueprint, **options: Any) -> None:
        # Documented as registered: under the app's limits, with its converters.
        with limits_of(self._app.config[SETTINGS]), self._app.app_context():
            super().register_blueprint(blp, **options)


def location_header(description: str) -> dict[str, Any]:
    """The `Location` header of an answer, for `@bp.response(..., headers=...)`."""
    return {
        "Location": {
            "description": description,
            "schema": {"type": "string", "format": "uri-reference"},
        }
    }


def refuse_encoded_bodies() -> None:
    """A compressed body (Content-Encoding: gzip, ...) is refused, not guessed at or
    inflated: the body size limit holds for what arrives, not for what it expands to."""
    coding = request.content_encoding
    if coding and coding.strip().lower() != "identity":
        raise UnsupportedMediaType(
            f"Content-Encoding {coding!r} is not supported: send the body uncompressed."
        )


def create_api(app: Flask, settings: Settings, **spec_options: Any) -> Api:
    """flask-smorest's Api on `app`, with our converters, documenting under `settings`."""
    app.before_request(refuse_encoded_bodies)
    app.config[SETTINGS] = settings
    app.config.update(OPENAPI_VERSION="3.1.0", OPENAPI_URL_PREFIX=None)
    app.url_map.converters.update(CONVERTERS)
    plugin = MarshmallowPlugin()
    plugin.Converter = Converter
    api = Api(app, spec_kwargs={"marshmallow_plugin": plugin, **spec_options})
    for converter in CONVERTERS.values():
        api.register_converter(converter, lambda c: plugin.converter.field2property(c.field))
    return api
