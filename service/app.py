"""The application factory."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import orjson
from flask import Flask, Response
from flask.json.provider import JSONProvider

from service import request_ids, serving
from service.api import create_api
from service.auth import ApiKeys, authorize
from service.bodies import parse_json
from service.config import Settings
from service.context import EXTENSION, Services
from service.metrics import instrument
from service.openapi import DESCRIPTION
from service.problems import register_error_handlers
from service.routes import (
    aliases,
    artifacts,
    batches,
    curves,
    datasets,
    docs,
    exports,
    feedback,
    health,
    jobs,
    kserve,
    metrics,
    models,
    specs,
    sweeps,
    tfserving,
    ui,
)
from service.shortcut import PredictShortcut

TITLE, VERSION = "Keras training service", "0.1.0"
_ORJSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
# The API's blueprints by API_ROLE, in the order the description lists them. A serving
# process mounts the model routes only (none of which imports TensorFlow); the
# dashboard (ui) is pages for people and is not part of the API.
TRAINING = (jobs, curves, datasets, specs, sweeps, batches)
ROLES = {
    "full": (
        *TRAINING,
        models,
        artifacts,
        exports,
        aliases,
        feedback,
        tfserving,
        kserve,
        health,
        metrics,
        docs,
    ),
    "serving": (models, artifacts, feedback, tfserving, kserve, health, metrics, docs),
}


class OrjsonProvider(JSONProvider):
    """JSON through orjson: several times faster than the standard library on the
    predict path, serializes NumPy arrays without `tolist()` and writes NaN as null.
    Bodies are parsed by service.bodies (once, within a nesting limit)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self.encode(obj).decode()

    def encode(self, obj: Any) -> bytes:
        """`obj` as the UTF-8 JSON of a response body."""
        return orjson.dumps(obj, option=_ORJSON)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parse_json(s.encode() if isinstance(s, str) else s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.encode(obj), mimetype="application/json")


class ServiceFlask(Flask):
    """Flask, asking once per function whether it is a coroutine: Flask asks on every
    call of every hook and view (`inspect.iscoroutinefunction`, ~10 times a request,
    measured ~5 % of a prediction's time in the app). None of ours is one."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._sync[func]
        except KeyError:
            return self._sync.setdefault(func, super().ensure_sync(func))
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)

    @cached_property
    def _sync(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        return {}


def create_app(settings: Settings | None = None) -> Flask:
    """A configured app; `settings` default to the environment (tests pass their own)."""
    settings = settings or Settings.from_env()
    if settings.api_role not in ROLES:
        raise ValueError(
            f"API_ROLE must be one of {', '.join(ROLES)}. Received: {settings.api_role!r}"
        )
    if not 0 <= settings.payload_log_rate <= 1:
        raise ValueError(
            f"PAYLOAD_LOG_RATE must be a share from 0 to 1. Received: {settings.payload_log_rate}"
        )
    # No app-wide /static route: each blueprint serves its own assets under its scope.
    app = ServiceFlask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = OrjsonProvider(app)
    app.extensions[EXTENSION] = Services.create(settings)
    keys = ApiKeys.from_settings(settings)  # a malformed key stops start-up here
    # Before authorization: a refused request still gets an ID and is counted.
    request_ids.install(app)
    instrument(app)
    app.after_request(serving.after_prediction)  # runs before the two above (Flask's order)
    app.before_request(lambda: authorize(keys))
    api = create_api(
        app,
        settings,
        title=TITLE,
        version=VERSION,
        info={
            "summary": "Train Keras models from JSON specs on RQ workers and serve them.",
            "description": DESCRIPTION,
            "license": {"name": "Proprietary"},
        },
        # Relative: the host that served the document, so /docs' "Try it out" and other
        # clients call the service they read it from.
        servers=[
            {"url": "/", "description": "This server"},
            {"url": "http://127.0.0.1:8000", "description": "Local development (`make run`)."},
        ],
        # A key when keys are configured; none (the empty requirement) when it is open.
        security=[{"apiKey": []}, {}],
    )
    for module in ROLES[settings.api_role]:
        api.register_blueprint(module.bp)
    if settings.api_role == "full":
        app.register_blueprint(ui.bp)
    register_error_handlers(app)
    # Last, over every route: the predict requests it can answer 200 skip Flask.
    app.wsgi_app = PredictShortcut(app, keys)  # type: ignore[method-assign]
    return app
