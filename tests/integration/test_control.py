"""Job control against a real Redis and worker: idempotent submits, cancel (queued and
mid-fit), delete, time limits, long-polling, event streams and priority queues.

The module has a queue and a worker of its own, so the session's worker never takes
these jobs and a long job here blocks nothing else.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from service.ml.artifacts import ArtifactStore
from service.store import connect
from tests.helpers import (
    finished_job,
    long_digits,
    quick_sum,
    start_worker,
    stop,
    submit,
    training,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def control(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Any]]:
    mine = replace(settings, queue_name=f"control-{uuid.uuid4().hex[:8]}")
    worker = start_worker(mine, tmp_path_factory.mktemp("control") / "worker.log")
    yield mine, create_app(mine).test_client()
    stop(worker)


@pytest.fixture
def idle_queue(settings: Settings) -> tuple[Settings, Any]:
    """A queue no worker serves: its jobs stay queued."""
    mine = replace(settings, queue_name=f"idle-{uuid.uuid4().hex[:8]}")
    return mine, create_app(mine).test_client()


def job(client: Any, job_id: str) -> dict[str, Any]:
    return client.get(f"/v1/jobs/{job_id}").get_json()


def stored(settings: Settings, job_id: str) -> bool:
    return (Path(settings.artifact_root) / job_id).exists()


# Idempotency


def test_a_retry_with_the_same_key_and_body_returns_the_same_job(
    idle_queue: tuple[Settings, Any],
) -> None:
    _, client = idle_queue
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = client.post("/v1/jobs", json=quick_sum(), headers=key)
    assert first.status_code == 202
    # The same JSON with its keys in another order is the same body.
    reordered = json.dumps(dict(reversed(list(quick_sum().items()))))
    again = client.post("/v1/jobs", data=reordered, content_type="application/json", headers=key)
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    listed = client.get("/v1/jobs?limit=100").get_json()["jobs"]
    assert [j["id"] for j in listed].count(first.get_json()["id"]) == 1


def test_the_same_key_with_another_body_is_409(idle_queue: tuple[Settings, Any]) -> None:
    _, client = idle_queue
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first_id = submit(client, quick_sum(), **key)
    response = client.post("/v1/jobs", json=quick_sum(epochs=4), headers=key)
    assert response.status_code == 409
    body = response.get_json()
    assert body["type"] == "/problems/idempotency-key-reused"
    assert first_id in body["detail"]


def test_an_oversized_idempotency_key_is_422(idle_queue: tuple[Settings, Any]) -> None:
    _, client = idle_queue
    response = client.post("/v1/jobs", json=quick_sum(), headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]


# Cancel and delete


def test_a_canceled_queued_job_never_starts(
    idle_queue: tuple[Settings, Any], tmp_path: Path
) -> None:
    settings, client = idle_queue
    job_id = submit(client, quick_sum())
    response = client.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200
    assert response.get_json()["status"] == "canceled"
    # A worker that now drains the queue finds nothing to run.
    assert start_worker(settings, tmp_path / "worker.log", "--burst").wait(timeout=120) == 0
    after = job(client, job_id)
    assert after["status"] == "canceled"
    assert after["started_at"] is None
    assert after["ended_at"] is not None  # it ended when it was canceled
    assert not stored(settings, job_id)


def test_a_canceled_job_is_said_to_have_no_model_and_never_to(
    idle_queue: tuple[Settings, Any],
) -> None:
    _, client = idle_queue
    job_id = submit(client, quick_sum())
    client.post(f"/v1/jobs/{job_id}/cancel")
    answers = (
        client.get(f"/v1/models/{job_id}/summary"),
        client.post(f"/v1/models/{job_id}/predict", json={"instances": [[1, 2]]}),
        client.put(f"/v1/aliases/never-{uuid.uuid4().hex[:8]}", json={"job_id": job_id}),
    )
    for response in answers:
        assert response.status_code == 409
        assert "never will" in response.get_json()["detail"]
        assert response.get_json()["job_status"] == "canceled"


def test_a_running_fit_is_canceled_within_two_seconds_and_keeps_nothing(
    control: tuple[Settings, Any],
) -> None:
    settings, client = control
    job_id = submit(client, long_digits())
    started_at = training(client, job_id)["started_at"]
    asked = time.monotonic()
    response = client.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 202
    ended = wait_until(
        lambda: (found := job(client, job_id))["status"] != "started" and found,
        timeout=10,
        interval=0.02,
    )
    took = time.monotonic() - asked
    assert ended["status"] == "canceled"
    assert took <= 2.0, f"canceled after {took:.2f} s"
    assert ended["started_at"] == started_at  # one start, however often it is read
    assert ended["error"] is None
    assert not stored(settings, job_id)
    predict = client.post(f"/v1/models/{job_id}/predict", json={"instances": [[0.0] * 64]})
    assert predict.status_code == 409
    assert predict.get_json()["job_status"] == "canceled"
    # Canceling again changes nothing; a canceled job is listed as such.
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
    canceled = client.get("/v1/jobs?status=canceled&limit=100").get_json()["jobs"]
    assert job_id in [j["id"] for j in canceled]


def test_delete_removes_an_ended_job_and_its_artifacts_but_not_a_running_one(
    control: tuple[Settings, Any],
) -> None:
    settings, client = control
    done = submit(client, quick_sum())
    assert finished_job(client, done)["status"] == "finished"
    rows = {"instances": [[1.0, 2.0]]}
    assert client.post(f"/v1/models/{done}/predict", json=rows).status_code == 200
    assert client.post(f"/v1/jobs/{done}/cancel").status_code == 409  # already finished

    running = submit(client, long_digits())
    training(client, running)
    refused = client.delete(f"/v1/jobs/{running}")
    assert refused.status_code == 409
    assert refused.get_json()["job_status"] == "started"
    assert client.post(f"/v1/jobs/{running}/cancel").status_code == 202

    assert client.delete(f"/v1/jobs/{done}").status_code == 204
    assert client.get(f"/v1/jobs/{done}").status_code == 404
    assert not stored(settings, done)
    assert not ArtifactStore(settings.artifact_root).has_model(done)
    # The model was loaded in this process; it is no longer served.
    assert client.post(f"/v1/models/{done}/predict", json=rows).status_code == 404
    assert client.delete(f"/v1/jobs/{done}").status_code == 404
    wait_until(lambda: job(client, running)["status"] == "canceled", timeout=10)
    assert client.delete(f"/v1/jobs/{running}").status_code == 204


def test_a_job_an_alias_points_at_cannot_be_deleted(control: tuple[Settings, Any]) -> None:
    _, client = control
    done = submit(client, quick_sum())
    assert finished_job(client, done)["status"] == "finished"
    name = f"keep-{uuid.uuid4().hex[:8]}"
    assert client.put(f"/v1/aliases/{name}", json={"job_id": done}).status_code == 201
    refused = client.delete(f"/v1/jobs/{done}")
    assert refused.status_code == 409
    assert name in refused.get_json()["detail"]
    assert client.delete(f"/v1/aliases/{name}").status_code == 204
    assert client.delete(f"/v1/jobs/{done}").status_code == 204


# Time limits


def test_a_fit_over_its_max_seconds_fails_with_a_clear_error(
    control: tuple[Settings, Any],
) -> None:
    settings, client = control
    job_id = submit(client, long_digits(max_seconds=2))
    ended = finished_job(client, job_id, timeout=60)
    assert ended["status"] == "failed"
    assert ended["error"]["type"] == "/problems/training-timed-out"
    assert "fit.max_seconds" in ended["error"]["detail"]
    started = ended["started_at"]
    assert started is not None
    assert not stored(settings, job_id)


def test_max_seconds_above_the_server_maximum_is_422(control: tuple[Settings, Any]) -> None:
    settings, client = control
    response = client.post("/v1/jobs", json=long_digits(max_seconds=settings.job_timeout_s + 1))
    assert response.status_code == 422
    assert "JOB_TIMEOUT" in response.get_json()["errors"]["fit.max_seconds"][0]


# Following progress


def test_long_poll_answers_when_the_epoch_changes(control: tuple[Settings, Any]) -> None:
    _, client = control
    job_id = submit(client, long_digits())
    try:
        seen = training(client, job_id)["progress"]["epoch"]
        asked = time.monotonic()
        changed = client.get(f"/v1/jobs/{job_id}?wait=30").get_json()
        assert time.monotonic() - asked < 10  # an epoch takes well under a second
        assert changed["progress"]["epoch"] > seen
    finally:
        client.post(f"/v1/jobs/{job_id}/cancel")
    ended = wait_until(lambda: (j := job(client, job_id))["status"] == "canceled" and j, 10)
    asked = time.monotonic()
    assert client.get(f"/v1/jobs/{job_id}?wait=30").get_json()["status"] == ended["status"]
    assert time.monotonic() - asked < 1  # an ended job has nothing to wait for
    bad = client.get(f"/v1/jobs/{job_id}?wait=61")
    assert bad.status_code == 422
    assert "wait" in bad.get_json()["errors"]


def parse_events(text: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith(":"))
        events.append((fields["event"], fields.get("id"), json.loads(fields["data"])))
    return events


def test_event_stream_sends_each_epoch_then_the_end(control: tuple[Settings, Any]) -> None:
    _, client = control
    job_id = submit(client, quick_sum(epochs=4))
    response = client.get(f"/v1/jobs/{job_id}/events")  # the stream ends with the job
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = parse_events(response.get_data(as_text=True))
    assert [(e[0], e[1]) for e in events] == [
        ("epoch", "1"),
        ("epoch", "2"),
        ("epoch", "3"),
        ("epoch", "4"),
        ("end", None),
    ]
    history = job(client, job_id)["history"]
    for name in ("loss", "mae"):
        assert [e[2][name] for e in events[:4]] == history[name]
    assert events[-1][2]["status"] == "finished"
    assert events[-1][2]["metrics"]["mae"] is not None

    resumed = client.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "3"})
    assert [e[1] for e in parse_events(resumed.get_data(as_text=True))] == ["4", None]


# Priority queues


def test_high_priority_jobs_start_before_earlier_default_ones(
    control: tuple[Settings, Any],
) -> None:
    _, client = control
    blocker = submit(client, long_digits())
    training(client, blocker)  # the only worker is busy from here
    default = submit(client, quick_sum())
    low = submit(client, quick_sum(queue="low"))
    high = submit(client, quick_sum(queue="high"))
    assert job(client, high)["queue"] == "high"
    client.post(f"/v1/jobs/{blocker}/cancel")
    order = [finished_job(client, j) for j in (high, default, low)]
    assert [j["status"] for j in order] == ["finished"] * 3
    started = [j["started_at"] for j in order]
    assert started == sorted(started), dict(zip(("high", "default", "low"), started, strict=True))


def test_an_unknown_queue_is_422(control: tuple[Settings, Any]) -> None:
    _, client = control
    response = client.post("/v1/jobs", json=quick_sum(queue="urgent"))
    assert response.status_code == 422
    assert "queue" in response.get_json()["errors"]


# Retention


def test_retention_removes_old_artifacts_and_records_but_keeps_aliased_jobs(
    settings: Settings, tmp_path: Path
) -> None:
    from worker.main import expire_artifacts

    mine = replace(
        settings,
        queue_name=f"retention-{uuid.uuid4().hex[:8]}",
        artifact_root=str(tmp_path / "artifacts"),
        artifact_ttl_s=1,
    )
    client = create_app(mine).test_client()
    old, kept = submit(client, quick_sum()), submit(client, quick_sum())
    assert start_worker(mine, tmp_path / "worker.log", "--burst").wait(timeout=180) == 0
    assert client.put("/v1/aliases/retained-model", json={"job_id": kept}).status_code in (200, 201)
    time.sleep(1.1)

    store = ArtifactStore(mine.artifact_root)
    assert expire_artifacts(mine, connect(mine)) == [old]
    assert not store.has_model(old)
    assert client.get(f"/v1/jobs/{old}").status_code == 404
    assert store.has_model(kept)
    rows = {"instances": [[1.0, 2.0]]}
    assert client.post("/v1/models/retained-model/predict", json=rows).status_code == 200
    assert client.delete("/v1/aliases/retained-model").status_code == 204
