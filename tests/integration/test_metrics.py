"""/metrics and request IDs on the real gunicorn server (multiprocess metrics, JSON logs)
with the session's Redis and worker: the numbers move by exactly the traffic sent, and
a request's ID reaches the API's log lines and the worker's lines for its job."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import example, metric_samples, wait_until

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/{ref}/predict"
PREDICTS, ROWS = 3, 4  # predict requests sent, rows in each


def call(
    url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Scrape(dict):
    """One /metrics answer, parsed: (sample name, labels) -> value."""

    def __init__(self, server: str) -> None:
        status, headers, body = call(f"{server}/metrics")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        super().__init__(metric_samples(body.decode()))

    def value(self, name: str, **labels: str) -> float:
        return self.get((name, frozenset(labels.items())), 0.0)

    def requests(self, route: str, method: str, status: int) -> float:
        name = "keras_service_http_request_duration_seconds_count"
        return self.value(name, route=route, method=method, status=str(status))

    def jobs(self, status: str) -> float:
        return self.value("keras_service_jobs", status=status)


def finished(server: str, job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job = json.loads(call(f"{server}/v1/jobs/{job_id}")[2])
        return job if job["status"] in ("finished", "failed", "canceled") else None

    job = wait_until(ended, timeout=180, interval=0.2)
    assert job["status"] == "finished", job["error"]
    return job


@dataclass
class Traffic:
    before: Scrape
    busy: Scrape  # while one job trains and the other waits
    after: Scrape
    job_id: str
    request_id: str


@pytest.fixture(scope="module")
def traffic(server: str, worker: Path) -> Traffic:
    """Two jobs submitted back to back (the second with an X-Request-ID), predictions
    from the second, two 404s; scraped before, while busy, and after."""

    def idle() -> Scrape | None:  # no job of an earlier test still moving
        scrape = Scrape(server)
        return scrape if scrape.jobs("queued") + scrape.jobs("started") == 0 else None

    before = wait_until(idle, timeout=180)
    request_id = f"metrics-test-{uuid.uuid4()}"
    spec = example("digits")
    assert call(f"{server}/v1/jobs", spec)[0] == 202
    status, _, body = call(f"{server}/v1/jobs", spec, {"X-Request-ID": request_id})
    assert status == 202
    job_id = json.loads(body)["id"]

    def one_training_one_waiting() -> Scrape | None:
        scrape = Scrape(server)
        return scrape if (scrape.jobs("started"), scrape.jobs("queued")) == (1, 1) else None

    busy = wait_until(one_training_one_waiting, timeout=60)
    finished(server, job_id)
    rows = [[0.0] * 64] * ROWS
    for _ in range(PREDICTS):
        status, _, _ = call(f"{server}/v1/models/{job_id}/predict", {"instances": rows})
        assert status == 200
    assert call(f"{server}/v1/jobs/{uuid.uuid4()}")[0] == 404
    assert call(f"{server}/no/such/{uuid.uuid4()}")[0] == 404
    return Traffic(before, busy, Scrape(server), job_id, request_id)


def test_requests_are_counted_by_route_method_and_status(traffic: Traffic) -> None:
    before, after = traffic.before, traffic.after
    moved = {
        (route, method, status): after.requests(route, method, status)
        - before.requests(route, method, status)
        for route, method, status in [
            (PREDICT, "POST", 200),
            ("/v1/jobs", "POST", 202),
            ("/v1/jobs/{job_id}", "GET", 404),
            ("unmatched", "GET", 404),
        ]
    }
    assert moved == {
        (PREDICT, "POST", 200): PREDICTS,
        ("/v1/jobs", "POST", 202): 2,
        ("/v1/jobs/{job_id}", "GET", 404): 1,
        ("unmatched", "GET", 404): 1,
    }


def test_predicted_rows_are_counted_by_protocol_and_route(traffic: Traffic) -> None:
    name, labels = "keras_service_predict_rows_total", {"protocol": "native", "route": PREDICT}
    moved = traffic.after.value(name, **labels) - traffic.before.value(name, **labels)
    assert moved == PREDICTS * ROWS


def test_a_new_model_is_loaded_once_then_served_from_the_cache(traffic: Traffic) -> None:
    def moved(name: str, **labels: str) -> float:
        return traffic.after.value(name, **labels) - traffic.before.value(name, **labels)

    assert moved("keras_service_model_cache_lookups_total", result="miss") == 1
    assert moved("keras_service_model_cache_lookups_total", result="hit") == PREDICTS - 1
    assert moved("keras_service_model_loads_total", result="ok") == 1
    assert moved("keras_service_model_load_seconds_count") == 1
    assert moved("keras_service_model_load_seconds_sum") > 0


def test_jobs_and_queue_depth_are_read_from_redis(traffic: Traffic) -> None:
    before, busy, after = traffic.before, traffic.busy, traffic.after
    assert busy.value("keras_service_queue_depth", queue="default") == 1
    assert busy.value("keras_service_queue_depth", queue="high") == 0
    for scrape in (before, after):
        assert scrape.value("keras_service_queue_depth", queue="default") == 0
        assert scrape.value("keras_service_job_store_up") == 1
    assert after.jobs("finished") - before.jobs("finished") == 2
    for status in ("queued", "started", "failed", "canceled"):
        assert after.jobs(status) == before.jobs(status), status


def test_training_durations_observed_by_the_worker_are_exposed(traffic: Traffic) -> None:
    name = "keras_service_training_seconds"
    count = f"{name}_count"
    assert (
        traffic.after.value(count, status="finished")
        - traffic.before.value(count, status="finished")
        == 2
    )
    assert traffic.after.value(f"{name}_sum", status="finished") > traffic.before.value(
        f"{name}_sum", status="finished"
    )
    inf = traffic.after.value(f"{name}_bucket", status="finished", le="+Inf")
    assert inf == traffic.after.value(count, status="finished")


def json_lines(path: Path) -> list[dict[str, Any]]:
    # Only lines our formatter wrote: TensorFlow writes plain text to the same stream.
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_the_worker_logs_a_job_with_the_request_id_that_submitted_it(
    traffic: Traffic, worker: Path
) -> None:
    tagged = [line for line in json_lines(worker) if line["request_id"] == traffic.request_id]
    messages = [line["message"] for line in tagged]
    assert any(f"training job {traffic.job_id} finished" in m for m in messages), messages
    # RQ's own lines about the job, from the work horse, carry it too.
    assert any("Job OK" in m for m in messages), messages


def server_log(tmp_path_factory: pytest.TempPathFactory, request_id: str) -> dict[str, Any]:
    """The API's JSON access line for `request_id`, from the log the `server` fixture
    writes (tmp/gunicorn*/gunicorn.log)."""

    def line() -> dict[str, Any] | None:
        for log in tmp_path_factory.getbasetemp().glob("gunicorn*/gunicorn.log"):
            for entry in json_lines(log):
                if entry["request_id"] == request_id and entry["logger"] == "gunicorn.access":
                    return entry
        return None

    return wait_until(line, timeout=10)


def test_a_request_id_is_returned_and_logged_by_the_api(
    server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    request_id = f"req-{uuid.uuid4()}"
    status, headers, _ = call(f"{server}/healthz", headers={"X-Request-ID": request_id})
    assert status == 200
    assert headers["X-Request-ID"] == request_id
    entry = server_log(tmp_path_factory, request_id)
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/healthz", 200)
    assert entry["duration_ms"] >= 0


def test_a_problem_carries_a_generated_request_id_when_the_sent_one_is_invalid(
    server: str,
) -> None:
    status, headers, body = call(
        f"{server}/v1/jobs/{uuid.uuid4()}", headers={"X-Request-ID": "x" * 129}
    )
    assert status == 404
    assert headers["Content-Type"] == "application/problem+json"
    assert len(headers["X-Request-ID"]) == 32
    assert json.loads(body)["status"] == 404
