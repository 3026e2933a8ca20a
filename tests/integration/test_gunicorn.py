"""The run path: the real gunicorn server with the project's config, over a socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from tests.conftest import ROOT, example, free_port, wait_until

pytestmark = pytest.mark.integration


def call(url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "ARTIFACT_ROOT": settings.artifact_root,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(gunicorn), "--config", "python:service.gunicorn_conf", "service.wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return call(f"{base}/healthz")[0] == 200
        except OSError:
            return False

    wait_until(up, timeout=60, interval=0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


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
