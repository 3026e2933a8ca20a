"""The run path: the real gunicorn server with the project's config, over a socket."""

from __future__ import annotations

import json
import socket
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


def raw_request(server: str, request: bytes) -> tuple[int, str, dict[str, Any]]:
    """Send bytes as they are (urllib would refuse to): status, Content-Type, body."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers["Content-Type"], json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status", "slug"),
    [
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri-too-long"),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
            431,
            "headers-too-large",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\x01b\r\n\r\n",
            400,
            "malformed-request",
        ),
    ],
)
def test_requests_gunicorn_refuses_itself_are_answered_as_problems(
    server: str, request_bytes: bytes, status: int, slug: str
) -> None:
    answered, content_type, body = raw_request(server, request_bytes)
    assert (answered, content_type) == (status, "application/problem+json")
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
