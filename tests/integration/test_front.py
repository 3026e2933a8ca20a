"""The nginx front `make run` puts before gunicorn: requests pass through it whole, a
client that trickles its body holds nothing of the API's, and its own refusals are
problem+json like the API's."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import ROOT, free_port, stop, wait_until

pytestmark = pytest.mark.integration

READ_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def front(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (make setup installs it)")
    port = free_port()
    folder = tmp_path_factory.mktemp("front")
    proc = subprocess.Popen(
        [
            str(ROOT / "scripts" / "front.sh"),
            f"127.0.0.1:{port}",
            server.removeprefix("http://"),
            str(folder),
            "33554432",
            f"{READ_TIMEOUT_S}s",
        ]
    )
    wait_until(lambda: answers(port), timeout=10)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def get(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], json.loads(error.read())


def test_requests_pass_through_the_front_unchanged(front: str, server: str) -> None:
    assert get(f"{front}/healthz") == get(f"{server}/healthz")
    status, content_type, body = get(f"{front}/v1/jobs", {"model": {}})
    assert (status, content_type) == (422, "application/problem+json")
    assert body == get(f"{server}/v1/jobs", {"model": {}})[2]


def test_a_trickling_body_is_cut_off_and_holds_nothing_of_the_api(front: str) -> None:
    host, port = front.removeprefix("http://").split(":")
    tricklers = []
    for _ in range(40):  # more than gunicorn's threads: without the front, all taken
        conn = socket.create_connection((host, int(port)), timeout=30)
        conn.sendall(
            b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 20000000\r\n\r\n{"
        )
        tricklers.append(conn)
    started = time.monotonic()
    assert get(f"{front}/healthz")[0] == 200
    assert time.monotonic() - started < 1.0
    # Nothing more arrives: nginx closes each after the read timeout, with a 408.
    time.sleep(READ_TIMEOUT_S + 1)
    for conn in tricklers:
        answer = conn.recv(4096)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
        conn.close()


def test_the_fronts_own_refusals_are_problems(front: str) -> None:
    status, content_type, body = get(f"{front}/{'a' * 20_000}")
    assert (status, content_type) == (414, "application/problem+json")
    assert body["type"] == "/problems/uri-too-long"
    status, content_type, body = get(f"{front}/healthz", headers={"X-Big": "b" * 20_000})
    assert (status, content_type) == (400, "application/problem+json")
    assert body["type"] == "/problems/malformed-request"
