"""The prediction shortcut (service.shortcut) against the Flask app behind it: the same
request, sent to each, gets the same status, headers and body; the shortcut answers the
good requests without Flask, and hands every other one to it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from flask import request_started
from werkzeug.test import EnvironBuilder, run_wsgi_app

from service.app import create_app
from service.config import Settings
from service.ml.datasets import builtin_arrays
from tests.helpers import metric_samples

pytestmark = pytest.mark.integration

DIGITS, _ = builtin_arrays("digits", 0, 0)
ROWS = DIGITS[:3].tolist()
READER = "reader-key-0123456789"
JSON = "application/json"


def answers(app: Any, path: str, **request: Any) -> tuple[tuple, tuple, bool]:
    """The answer of the shortcut and of the app behind it to one request, as (status,
    headers, body), and whether the shortcut passed the request to Flask."""
    headers = {**request.pop("headers", {}), "X-Request-ID": "same-request-id-for-both"}
    request = {"method": "POST", **request, "headers": headers}
    seen: list[Any] = []

    def answer(wsgi: Any) -> tuple:
        environ = EnvironBuilder(path=path, **request).get_environ()
        body, status, headers = run_wsgi_app(wsgi, environ, buffered=True)
        return status, sorted(headers.items()), b"".join(body)

    shortcut = app.wsgi_app
    with request_started.connected_to(lambda sender, **_: seen.append(sender), app):
        by_shortcut = answer(shortcut)
        passed_on = bool(seen)
        by_app = answer(shortcut.app)
    return by_shortcut, by_app, passed_on


@pytest.fixture(scope="module")
def digits(trained: Any) -> str:
    return trained("digits")["id"]


@pytest.fixture(scope="module")
def alias(client_module: Any, digits: str) -> str:
    response = client_module.put("/v1/aliases/shortcut-champion", json={"job_id": digits})
    assert response.status_code in (200, 201), response.get_json()
    return "shortcut-champion"


@pytest.fixture(scope="module")
def client_module(app: Any) -> Any:
    return app.test_client()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"instances": ROWS}, {}),
        ({"instances": ROWS, "return": "both"}, {}),
        ({"instances": ROWS[:1], "return": "classes"}, {}),
        ({"instances": ROWS}, {"Content-Type": "application/json; charset=utf-8"}),
    ],
)
def test_a_good_prediction_is_answered_without_flask_as_flask_answers_it(
    app: Any, digits: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    by_shortcut, by_app, passed_on = answers(
        app, f"/v1/models/{digits}/predict", json=body, headers=headers
    )
    assert not passed_on
    assert by_shortcut[0] == "200 OK"
    assert by_shortcut == by_app
    assert ("X-Model-Job-ID", digits) in by_shortcut[1]


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        (":predict", {"instances": ROWS}),
        (":predict", {"inputs": ROWS, "signature_name": "serving_default"}),
        ("/versions/1:predict", {"instances": ROWS}),
    ],
)
def test_tf_serving_predictions_take_the_shortcut_too(
    app: Any, digits: str, suffix: str, body: dict[str, Any]
) -> None:
    by_shortcut, by_app, passed_on = answers(app, f"/v1/models/{digits}{suffix}", json=body)
    assert not passed_on
    assert by_shortcut[0] == "200 OK"
    assert by_shortcut == by_app


@pytest.mark.parametrize(
    ("suffix", "request_", "status"),
    [
        (":predict", {"json": {"instances": ROWS, "inputs": ROWS}}, "422"),
        (":predict", {"json": {"instances": ROWS, "signature_name": "other"}}, "422"),
        ("/versions/2:predict", {"json": {"instances": ROWS}}, "404"),
        # TF Serving's clients may send no Content-Type: the app reads the body anyway.
        (":predict", {"data": b'{"instances": [[0.5]]}'}, "422"),
        (":predict", {"data": f'{{"instances": {ROWS}}}'.encode()}, "200"),
    ],
)
def test_tf_serving_requests_the_shortcut_cannot_answer_get_the_apps_answer(
    app: Any, digits: str, suffix: str, request_: dict[str, Any], status: str
) -> None:
    by_shortcut, by_app, passed_on = answers(app, f"/v1/models/{digits}{suffix}", **request_)
    assert passed_on
    assert by_shortcut == by_app
    assert by_shortcut[0][:3] == status


def test_an_alias_and_an_upper_case_job_id_are_resolved_as_the_app_resolves_them(
    app: Any, digits: str, alias: str
) -> None:
    for ref in (alias, digits.upper()):
        by_shortcut, by_app, passed_on = answers(
            app,
            f"/v1/models/{ref}/predict",
            json={"instances": ROWS},
            headers={"X-Routing-Key": "user-7"},
        )
        assert not passed_on
        assert by_shortcut == by_app
        assert ("X-Model-Job-ID", digits) in by_shortcut[1]


def test_shortcut_predictions_are_counted_like_the_apps(app: Any, digits: str) -> None:
    route = {"route": "/v1/models/{ref}/predict"}

    def counts() -> tuple[float, float]:
        samples = metric_samples(app.test_client().get("/metrics").get_data(as_text=True))
        requests = frozenset({**route, "method": "POST", "status": "200"}.items())
        rows = frozenset({**route, "protocol": "native"}.items())
        return (
            samples.get(("keras_service_http_request_duration_seconds_count", requests), 0.0),
            samples.get(("keras_service_predict_rows_total", rows), 0.0),
        )

    before = counts()
    for _ in range(3):
        _, _, passed_on = answers(app, f"/v1/models/{digits}/predict", json={"instances": ROWS})
        assert not passed_on
    after = counts()
    # Each call of `answers` predicts twice: once by the shortcut, once by the app.
    assert after[0] - before[0] == 6
    assert after[1] - before[1] == 6 * len(ROWS)


@pytest.mark.parametrize(
    "request_",
    [
        {"json": {"instances": [[1.0, 2.0]]}},  # not the model's input shape
        {"json": {"instances": [[1e39] * 64]}},  # beyond float32
        {"json": {"instances": [[True] * 64]}},
        {"json": {"instance": ROWS}},  # a misspelt field
        {"json": {"instances": ROWS, "return": "labels"}},
        {"json": {"instances": []}},
        {"json": [ROWS]},
        {"data": b'{"instances": [[1, 2]], "instances": [[3]]}', "content_type": JSON},
        {"data": b"{not json", "content_type": JSON},
        {"data": b'{"instances": [[0]]}', "content_type": "text/plain"},
        {"data": b"", "content_type": JSON},
        {"json": {"instances": ROWS}, "headers": {"Content-Encoding": "gzip"}},
        {"json": {"instances": ROWS}, "method": "PUT"},
    ],
)
def test_a_request_the_shortcut_cannot_answer_gets_the_apps_answer(
    app: Any, digits: str, request_: dict[str, Any]
) -> None:
    by_shortcut, by_app, passed_on = answers(app, f"/v1/models/{digits}/predict", **request_)
    assert passed_on
    assert by_shortcut == by_app
    assert not by_shortcut[0].startswith("2")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/0b7c5a4e-54d1-4a8e-9d3f-111111111111/predict",  # no such job
        "/v1/models/no-such-alias/predict",
        "/v1/models/-not-a-name-/predict",
        "/v1/models/predict",  # GET /v1/models/{ref}'s path: 405
        "/v2/models/x/predict",
    ],
)
def test_a_model_or_route_that_does_not_exist_gets_the_apps_answer(app: Any, path: str) -> None:
    by_shortcut, by_app, passed_on = answers(app, path, json={"instances": ROWS})
    assert passed_on
    assert by_shortcut == by_app
    assert by_shortcut[0][:3] in ("404", "405")


def test_a_regression_asked_for_classes_gets_the_apps_answer(app: Any, trained: Any) -> None:
    job = trained("sum_of_two")
    by_shortcut, by_app, passed_on = answers(
        app, f"/v1/models/{job['id']}/predict", json={"instances": [[1, 2]], "return": "classes"}
    )
    assert passed_on
    assert by_shortcut == by_app
    assert by_shortcut[0].startswith("422")


def test_keys_and_the_body_limit_are_the_apps(settings: Settings, digits: str) -> None:
    keyed = create_app(replace(settings, api_keys=f"{READER}:read", max_body_bytes=4096))
    path, rows = f"/v1/models/{digits}/predict", {"instances": ROWS[:1]}
    by_shortcut, by_app, passed_on = answers(
        keyed, path, json=rows, headers={"Authorization": f"Bearer {READER}"}
    )
    assert not passed_on
    assert by_shortcut == by_app
    assert by_shortcut[0] == "200 OK"
    for refused in (
        {"json": rows},  # no key
        {"json": rows, "headers": {"Authorization": "Bearer not-the-key-0123456789"}},
        {"json": rows, "headers": {"Authorization": f"Basic {READER}"}},
        {"json": {"instances": ROWS * 8}, "headers": {"Authorization": f"Bearer {READER}"}},
    ):
        by_shortcut, by_app, passed_on = answers(keyed, path, **refused)
        assert passed_on
        assert by_shortcut == by_app
        assert by_shortcut[0][:3] in ("401", "413")
