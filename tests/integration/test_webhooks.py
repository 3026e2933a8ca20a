"""Job-end webhooks: a local receiver gets the job, signed; a refused delivery is
retried; addresses the service must not call are refused at submit time."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from service.notify import SIGNATURE_HEADER, verify
from tests.helpers import finished_job, quick_sum, start_worker, stop, submit, wait_until

pytestmark = pytest.mark.integration

SECRET = "test-webhook-secret"


class Receiver:
    """A local HTTP receiver that answers the statuses it is given, in order (then 200),
    and keeps what it received."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.received = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/jobs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hooked(settings: Settings, tmp_path: Path) -> Iterator[tuple[Any, Settings]]:
    """A client and a worker on a queue of their own, with a webhook secret and the
    loopback receiver's host allowed by name."""
    mine = replace(
        settings,
        queue_name=f"hooks-{uuid.uuid4().hex[:8]}",
        webhook_secret=SECRET,
        webhook_allowed_hosts="127.0.0.1",
    )
    env = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    worker = start_worker(mine, tmp_path / "worker.log", env=env)
    # RQ's scheduler puts a delivery waiting for its retry back on the queue.
    scheduler = start_worker(mine, tmp_path / "scheduler.log", env=env, module="worker.scheduler")
    yield create_app(mine).test_client(), mine
    stop(scheduler)
    stop(worker)


def test_a_job_end_is_delivered_signed_and_retried_until_accepted(
    hooked: tuple[Any, Settings],
) -> None:
    client, _ = hooked
    receiver = Receiver([500])  # the first delivery is refused
    job_id = submit(client, quick_sum(notify={"url": receiver.url}))
    job = finished_job(client, job_id)
    assert job["status"] == "finished"

    wait_until(lambda: len(receiver.received) == 2, timeout=60)
    for headers, body in receiver.received:
        assert verify(SECRET, body, headers[SIGNATURE_HEADER])
        assert not verify("another secret", body, headers[SIGNATURE_HEADER])
        sent = json.loads(body)
        assert sent["event"] == "finished"
        assert sent["job"]["id"] == job_id
        assert sent["job"]["metrics"] == job["metrics"]
        assert f"t={sent['timestamp']}," in headers[SIGNATURE_HEADER]  # the signed time
    # A tampered body does not verify.
    headers, body = receiver.received[-1]
    assert not verify(SECRET, body.replace(b"finished", b"failed"), headers[SIGNATURE_HEADER])

    def delivered() -> list[dict[str, Any]] | None:
        deliveries = client.get(f"/v1/jobs/{job_id}").get_json()["notify"]["deliveries"]
        return deliveries if len(deliveries) == 2 else None

    first, second = wait_until(delivered, timeout=30)
    assert (first["status"], second["status"]) == (500, 200)
    assert first["at"] < second["at"]


def test_only_the_events_asked_for_are_delivered(hooked: tuple[Any, Settings]) -> None:
    client, _ = hooked
    receiver = Receiver([])
    spec = quick_sum(notify={"url": receiver.url, "events": ["failed"]})
    job = finished_job(client, submit(client, spec))
    assert job["status"] == "finished"
    assert client.get(f"/v1/jobs/{job['id']}").get_json()["notify"]["deliveries"] == []
    assert receiver.received == []


@pytest.mark.parametrize(
    ("url", "allowed", "words"),
    [
        ("http://10.0.0.7/hook", "", "private"),
        ("http://169.254.169.254/latest/meta-data", "", "link-local"),
        ("http://127.0.0.1:9/hook", "", "loopback"),
        ("http://[::1]:9/hook", "", "loopback"),
        ("http://127.0.0.1:9/hook", "hooks.example.com", "is not allowed"),
        ("ftp://example.com/hook", "", "http:// or https://"),
    ],
)
def test_a_url_the_service_must_not_call_is_refused_at_submit(
    settings: Settings, url: str, allowed: str, words: str
) -> None:
    mine = replace(settings, webhook_secret=SECRET, webhook_allowed_hosts=allowed)
    response = create_app(mine).test_client().post("/v1/jobs", json=quick_sum(notify={"url": url}))
    assert response.status_code == 422, response.get_json()
    assert words in " ".join(response.get_json()["errors"]["notify.url"])


def test_without_a_secret_notify_is_refused(client: Any) -> None:
    response = client.post("/v1/jobs", json=quick_sum(notify={"url": "https://example.com/h"}))
    assert response.status_code == 422
    assert "WEBHOOK_SECRET" in " ".join(response.get_json()["errors"]["notify.url"])
