"""Every error reaches the client as problem+json with the right status, even with
Redis unreachable. The app here points at a port where nothing listens."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask

from service.app import create_app
from tests.helpers import example, offline_settings

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    settings = offline_settings(
        tmp_path_factory,
        max_body_bytes=10_000,
    )
    app = create_app(settings)

    @app.get("/boom")  # a route that fails the way a bug would
    def boom() -> None:
        raise RuntimeError("secret path /srv/keys")

    return app


@pytest.fixture
def http(offline_app: Flask) -> Any:
    return offline_app.test_client()


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def test_unknown_route_is_404(http: Any) -> None:
    assert_problem(http.get("/v2/nothing"), 404, "not-found")


def test_wrong_method_is_405_with_allow(http: Any) -> None:
    response = http.delete("/v1/jobs")
    assert_problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers["Allow"]


def test_non_json_body_is_415(http: Any) -> None:
    body = assert_problem(
        http.post("/v1/jobs", data="x=1", content_type="text/plain"), 415, "unsupported-media-type"
    )
    assert "text/plain" in body["detail"]


def test_malformed_json_is_400(http: Any) -> None:
    assert_problem(
        http.post("/v1/jobs", data="{nope", content_type="application/json"),
        400,
        "malformed-request",
    )


def test_a_json_array_instead_of_an_object_is_400(http: Any) -> None:
    assert_problem(http.post("/v1/jobs", json=[1, 2]), 400, "malformed-request")


def test_oversized_body_is_413_naming_the_limit(http: Any) -> None:
    spec = example("sum_of_two")
    spec["data"] = {"x": [[1.0, 2.0]] * 2000, "y": [3.0] * 2000}
    body = assert_problem(http.post("/v1/jobs", json=spec), 413, "payload-too-large")
    assert "limit of 10,000 bytes" in body["detail"]


def test_invalid_spec_is_422_with_errors_keyed_by_json_path(http: Any) -> None:
    spec = example("digits")
    spec["model"]["layers"][0]["units"] = -1
    body = assert_problem(http.post("/v1/jobs", json=spec), 422, "invalid-spec")
    assert list(body["errors"]) == ["model.layers[0].units"]
    assert "model.layers[0].units" in body["detail"]


def test_spec_that_does_not_fit_its_data_is_422_before_queueing(http: Any) -> None:
    spec = example("digits")
    spec["model"]["input_shape"] = [63]
    # 422, not 503: the spec is checked before Redis is needed.
    body = assert_problem(http.post("/v1/jobs", json=spec), 422, "invalid-spec")
    assert "model.input_shape" in body["errors"]


def test_redis_unreachable_is_503_with_retry_after(http: Any) -> None:
    response = http.post("/v1/jobs", json=example("sum_of_two"))
    body = assert_problem(response, 503, "service-unavailable")
    assert response.headers["Retry-After"].isdigit()
    assert "redis://" not in body["detail"]


def test_readiness_fails_but_liveness_holds_without_redis(http: Any) -> None:
    assert_problem(http.get("/readyz"), 503, "service-unavailable")
    assert http.get("/healthz").get_json() == {"status": "ok"}


def test_job_ids_that_are_not_uuids_are_404(http: Any) -> None:
    assert_problem(http.get("/v1/jobs/..%2F..%2Fetc"), 404, "not-found")
    assert_problem(http.get("/v1/jobs/nope"), 404, "not-found")  # jobs take no aliases
    # Neither a job ID nor an alias name (those are lower-case): known 404 without Redis.
    assert_problem(
        http.post("/v1/models/Nope!/predict", json={"instances": [[1]]}), 404, "not-found"
    )


def test_list_filters_are_validated(http: Any) -> None:
    body = assert_problem(http.get("/v1/jobs?status=done"), 422, "invalid-request")
    assert "status" in body["errors"]
    assert "limit" in assert_problem(http.get("/v1/jobs?limit=0"), 422, "invalid-request")["errors"]


def test_an_unexpected_failure_is_500_without_internals(http: Any) -> None:
    body = assert_problem(http.get("/boom"), 500, "internal-error")
    assert "secret" not in str(body)
    assert "Traceback" not in str(body)


def test_predict_body_must_have_instances(http: Any) -> None:
    job_id = str(uuid.uuid4())
    body = assert_problem(
        http.post(f"/v1/models/{job_id}/predict", json={"rows": []}), 422, "invalid-input"
    )
    assert set(body["errors"]) == {"rows", "instances"}


def test_dry_run_summary_needs_no_redis(http: Any) -> None:
    response = http.post("/v1/summary", json={"model": example("digits")["model"]})
    assert response.status_code == 200
    assert response.get_json()["total_params"] == 38_410


def test_nan_and_infinity_literals_are_400_for_they_are_not_json(http: Any) -> None:
    spec = example("sum_of_two")
    spec["data"] = {"x": [[1.0, 2.0], [3.0, 4.0]], "y": [3.0, 7.0]}
    text = json.dumps(spec).replace("4.0]", "NaN]")
    body = assert_problem(
        http.post("/v1/jobs", data=text, content_type="application/json"), 400, "malformed-request"
    )
    assert "not valid JSON" in body["detail"]
    text = json.dumps({"model": example("digits")["model"]}).replace("64]", "Infinity]", 1)
    assert_problem(
        http.post("/v1/summary", data=text, content_type="application/json"),
        400,
        "malformed-request",
    )


def test_every_invalid_query_parameter_is_reported_at_once(http: Any) -> None:
    body = assert_problem(http.get("/v1/jobs?status=bogus&limit=-1"), 422, "invalid-request")
    assert set(body["errors"]) == {"status", "limit"}


def test_an_alias_without_a_job_is_an_invalid_request_not_a_prediction_input(http: Any) -> None:
    body = assert_problem(http.put("/v1/aliases/digits-prod", json={}), 422, "invalid-request")
    assert body["title"] == "Invalid request"
    assert body["errors"] == {"job_id": ["Expected either `job_id` or weighted `targets`."]}


def test_an_invalid_alias_name_is_a_422_saying_what_a_name_is(http: Any) -> None:
    body = assert_problem(
        http.put("/v1/aliases/Not_An_Alias", json={"job_id": str(uuid.uuid4())}),
        422,
        "invalid-request",
    )
    assert list(body["errors"]) == ["name"]


def test_a_job_id_in_upper_case_is_the_same_job(http: Any) -> None:
    # No Redis behind this app: a 503 means the ID was accepted and looked up.
    job_id = str(uuid.uuid4()).upper()
    assert_problem(http.get(f"/v1/jobs/{job_id}"), 503, "service-unavailable")
