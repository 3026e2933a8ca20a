"""The run path: the real gunicorn server with the project's config, over a socket."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.helpers import example, wait_until

pytestmark = pytest.mark.integration


def call(url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_gunicorn_serves_the_whole_path_from_spec_to_prediction(server: str, worker: Any) -> None:
    assert call(f"{server}/readyz")[2] == {"status": "ready"}
    status, headers, job = call(f"{server}/v1/jobs", example("sum_of_two"))
    assert status == 202
    assert headers["Location"] == f"/v1/jobs/{job['id']}"

    def finished() -> dict[str, Any] | None:
        seen = call(f"{server}/v1/jobs/{job['id']}")[2]
        return seen if seen["status"] in ("finished", "failed") else None

    assert wait_until(finished, timeout=120, interval=0.2)["status"] == "finished"
    status, _, body = call(f"{server}{job['links']['predict']}", {"instances": [[10, 2]]})
    assert status == 200
    assert abs(body["predictions"][0][0] - 12) <= 1.0


def test_gunicorn_answers_client_errors_as_problems(server: str) -> None:
    status, headers, body = call(f"{server}/v1/jobs", {"model": {}})
    assert status == 422
    assert headers["Content-Type"] == "application/problem+json"
    assert set(body["errors"]) >= {"model.input_shape", "model.layers", "compile", "data"}
