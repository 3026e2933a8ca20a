"""Faults the service survives: a worker or its work horse killed mid-fit, Redis stopped
under a running API, Redis restarted with jobs in it, a damaged model file.

Each test runs its own worker (on a queue of its own) or its own redis-server, so the
session's worker and Redis never see the damage.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis

from service.app import create_app
from service.config import Settings
from service.ml.artifacts import ONNX_FILE, ArtifactStore
from tests.helpers import (
    ROOT,
    children,
    finished_job,
    free_port,
    long_digits,
    pings,
    quick_sum,
    start_redis,
    start_worker,
    stop,
    submit,
    training,
    wait_until,
)
from worker.main import HEARTBEAT_GRACE_S, MONITORING_INTERVAL_S

pytestmark = pytest.mark.integration

# What scripts/run.sh gives its redis-server (checked below, so the two cannot drift).


def assert_nothing_servable(settings: Settings, client: Any, job_id: str) -> None:
    store = ArtifactStore(settings.artifact_root)
    assert not store.has_model(job_id)
    assert not (Path(settings.artifact_root) / job_id).exists()
    response = client.post(f"/v1/models/{job_id}/predict", json={"instances": [[0.0] * 64]})
    assert response.status_code == 409
    assert response.get_json()["job_status"] == "failed"


@pytest.fixture
def own_queue(settings: Settings) -> tuple[Settings, Any]:
    """Settings and a client for a queue no other worker serves, with JOB_RETRIES=0: a
    lost job fails at once (tests/integration/test_resume.py has the retries)."""
    mine = replace(settings, queue_name=f"faults-{uuid.uuid4().hex[:8]}", job_retries=0)
    return mine, create_app(mine).test_client()


def test_a_killed_work_horse_fails_its_job_and_the_worker_goes_on(
    own_queue: tuple[Settings, Any], tmp_path: Path
) -> None:
    settings, client = own_queue
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        job_id = submit(client, long_digits())
        assert training(client, job_id)["status"] == "started"
        (horse,) = wait_until(lambda: children(worker.pid), timeout=10)
        os.kill(horse, signal.SIGKILL)

        job = finished_job(client, job_id, timeout=30)
        assert job["status"] == "failed"
        assert job["error"]["type"] == "/problems/worker-lost"
        assert "killed or ran out of memory" in job["error"]["detail"]
        assert_nothing_servable(settings, client, job_id)

        # The worker itself survived and trains the next job.
        assert worker.poll() is None
        assert finished_job(client, submit(client, quick_sum()))["status"] == "finished"
    finally:
        stop(worker)


def test_a_killed_worker_fails_its_job_within_the_heartbeat_grace(
    own_queue: tuple[Settings, Any], tmp_path: Path
) -> None:
    settings, client = own_queue
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        job_id = submit(client, long_digits())
        training(client, job_id)
        (horse,) = wait_until(lambda: children(worker.pid), timeout=10)
        # The whole machine lost: the worker and its horse (its own process group).
        for pid in (worker.pid, horse):
            os.kill(pid, signal.SIGKILL)
        worker.wait()
        killed = time.monotonic()
        # Nobody is left to report: the job reads `started` until its heartbeat lapses.
        assert client.get(f"/v1/jobs/{job_id}").get_json()["status"] == "started"

        job = finished_job(client, job_id, timeout=60)
        lost_after = time.monotonic() - killed
        assert job["status"] == "failed"
        assert job["error"]["type"] == "/problems/worker-lost"
        assert lost_after <= MONITORING_INTERVAL_S + HEARTBEAT_GRACE_S + 5
        assert_nothing_servable(settings, client, job_id)
        # A listing sees the same outcome.
        listed = client.get("/v1/jobs?status=failed&limit=100").get_json()["jobs"]
        assert job_id in [j["id"] for j in listed]
    finally:
        stop(worker)


@pytest.fixture
def own_redis(tmp_path: Path) -> Any:
    """`own_redis(*options)` starts a private redis-server; stopped after the test."""
    started = []

    def start(port: int, *options: str) -> Any:
        proc = start_redis(tmp_path, port, *options)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            stop(proc)


def test_with_redis_stopped_jobs_are_503_and_loaded_models_keep_predicting(
    settings: Settings, trained: Any, own_redis: Any
) -> None:
    digits = trained("digits")
    port = free_port()
    redis_proc = own_redis(port)
    mine = replace(settings, redis_url=f"redis://127.0.0.1:{port}/0", redis_timeout_s=0.5)
    client = create_app(mine).test_client()
    rows = {"instances": [[0.0] * 64, [8.0] * 64]}
    before = client.post(f"/v1/models/{digits['id']}/predict", json=rows)
    assert before.status_code == 200
    queued = submit(client, quick_sum())

    stop(redis_proc)
    for response in (
        client.get(f"/v1/jobs/{queued}"),
        client.get("/v1/jobs"),
        client.post("/v1/jobs", json=quick_sum()),
        client.get("/readyz"),
    ):
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert response.headers["Retry-After"].isdigit()
        assert "redis://" not in response.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200
    during = client.post(f"/v1/models/{digits['id']}/predict", json=rows)
    assert during.status_code == 200
    assert during.get_json() == before.get_json()

    # Redis back on the same port: the same app recovers without a restart.
    own_redis(port)
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/jobs", json=quick_sum()).status_code == 202


@pytest.fixture
def make_run_redis() -> Any:
    """`make_run_redis(port, data)`: a redis-server started as `make run` starts one
    (scripts/redis.sh); stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(port: int, data: Path) -> subprocess.Popen:
        script = ROOT / "scripts" / "redis.sh"
        started.append(subprocess.Popen([script, str(port), str(data), str(data / "redis.log")]))
        wait_until(lambda: pings(redis.Redis(port=port)), timeout=10)
        return started[-1]

    yield start
    for proc in started:
        if proc.poll() is None:
            stop(proc)


def test_jobs_survive_a_redis_restart_as_make_run_starts_it(
    settings: Settings, make_run_redis: Any, tmp_path: Path
) -> None:
    port = free_port()
    redis_proc = make_run_redis(port, tmp_path)
    mine = replace(settings, redis_url=f"redis://127.0.0.1:{port}/0")
    client = create_app(mine).test_client()
    log = tmp_path / "worker.log"

    done = submit(client, quick_sum())
    assert start_worker(mine, log, "--burst").wait(timeout=180) == 0
    before = client.get(f"/v1/jobs/{done}").get_json()
    assert before["status"] == "finished"
    waiting = submit(client, quick_sum())

    stop(redis_proc)  # SIGTERM: how a service manager restarts Redis
    redis_proc = make_run_redis(port, tmp_path)

    after = client.get(f"/v1/jobs/{done}").get_json()
    assert after["status"] == "finished"
    assert after["metrics"] == before["metrics"]
    assert client.get(f"/v1/jobs/{waiting}").get_json()["status"] == "queued"
    assert start_worker(mine, log, "--burst").wait(timeout=180) == 0
    assert client.get(f"/v1/jobs/{waiting}").get_json()["status"] == "finished"


def test_a_damaged_model_file_is_503_model_unavailable_and_logged(
    settings: Settings, trained: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A copy of a trained job's artifacts under a new ID, with its served (ONNX) model
    # file damaged.
    digits = trained("digits")
    root = tmp_path / "artifacts"
    damaged_id = str(uuid.uuid4())
    shutil.copytree(Path(settings.artifact_root) / digits["id"], root / damaged_id)
    served = root / damaged_id / ONNX_FILE
    served.write_bytes(served.read_bytes()[: served.stat().st_size // 2])
    model = ArtifactStore(str(root)).model_path(damaged_id)
    client = create_app(replace(settings, artifact_root=str(root))).test_client()

    for _ in range(2):  # a failed load is not cached as a success
        response = client.post(f"/v1/models/{damaged_id}/predict", json={"instances": [[0.0] * 64]})
        assert response.status_code == 503
        body = response.get_json()
        assert body["type"] == "/problems/model-unavailable"
        assert str(root) not in response.get_data(as_text=True)
    assert f"cannot load the model of job {damaged_id}" in caplog.text

    model.unlink()  # missing altogether: the job is unknown to this Redis, so 404
    response = client.post(f"/v1/models/{damaged_id}/predict", json={"instances": [[0.0] * 64]})
    assert response.status_code == 404
