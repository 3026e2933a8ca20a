"""Jobs that outlive their workers: a job whose worker dies is queued again and the
next worker resumes it from its latest checkpoint (real workers, SIGKILL, real Keras).

Each test runs its own workers on a queue of its own, so the session's worker never
sees the damage.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from service.ml.artifacts import ArtifactStore
from tests.helpers import (
    children,
    example,
    finished_job,
    long_digits,
    start_worker,
    stop,
    submit,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def own_queue(settings: Settings) -> tuple[Settings, Any]:
    """Settings (JOB_RETRIES 2, the default) and a client on a queue of their own."""
    mine = replace(settings, queue_name=f"resume-{uuid.uuid4().hex[:8]}", job_retries=2)
    return mine, create_app(mine).test_client()


def digits(epochs: int = 20) -> dict[str, Any]:
    spec = example("digits")
    spec["fit"].update(epochs=epochs, early_stopping=None)
    return spec


def running_on(workers: list[Any]) -> tuple[Any, int]:
    """The worker that has a work horse (a job), and the horse."""
    for worker in workers:
        horses = children(worker.pid)
        if horses:
            return worker, horses[0]
    raise AssertionError("no worker is running a job")


def test_a_job_whose_worker_is_killed_resumes_on_another_from_its_checkpoint(
    own_queue: tuple[Settings, Any], tmp_path: Path
) -> None:
    settings, client = own_queue
    workers = [start_worker(settings, tmp_path / f"worker-{i}.log") for i in range(2)]
    try:
        job_id = submit(client, digits())
        wait_until(
            lambda: client.get(f"/v1/jobs/{job_id}").get_json()["progress"]["epoch"] >= 5,
            timeout=120,
            interval=0.02,
        )
        victim, horse = wait_until(lambda: running_on(workers), timeout=10)
        for pid in (victim.pid, horse):  # the machine lost: worker and horse at once
            os.kill(pid, signal.SIGKILL)
        victim.wait()
        killed_at = client.get(f"/v1/jobs/{job_id}").get_json()["progress"]["epoch"]

        seen: list[dict[str, Any]] = []

        def ended() -> dict[str, Any] | None:
            job = client.get(f"/v1/jobs/{job_id}").get_json()
            seen.append(job)
            return job if job["status"] in ("finished", "failed", "canceled") else None

        job = wait_until(ended, timeout=180, interval=0.1)
        assert job["status"] == "finished", job["error"]
        assert job["attempts"] == 2
        # It went on after the last checkpoint (one a finished epoch), not from epoch 1.
        assert killed_at - 1 <= job["resumed_from_epoch"] <= killed_at
        # Every epoch once, and the progress never went back while it resumed.
        assert {len(values) for values in job["history"].values()} == {20}
        epochs = [j["progress"]["epoch"] for j in seen]
        assert epochs == sorted(epochs)
        assert job["metrics"]["accuracy"] >= 0.95
        assert job["result"]["epochs_run"] == 20
        # The model was stored once, and the checkpoint went with the job's end.
        store = ArtifactStore(settings.artifact_root)
        assert store.has_model(job_id)
        assert store.read_checkpoint(job_id) is None
        predicted = client.post(f"/v1/models/{job_id}/predict", json={"instances": [[0.0] * 64]})
        assert predicted.status_code == 200
    finally:
        for worker in workers:
            stop(worker)


def test_a_job_that_kills_its_worker_every_time_fails_after_its_retries(
    own_queue: tuple[Settings, Any], tmp_path: Path
) -> None:
    settings, client = own_queue
    worker = start_worker(settings, tmp_path / "worker.log")
    stopping = threading.Event()
    kills = []

    watcher = create_app(settings).test_client()  # a client of its own, for its thread

    def kill_each_attempt() -> None:
        # What an out-of-memory kill does to each attempt: the horse dies mid-fit.
        while not stopping.is_set():
            job = watcher.get(f"/v1/jobs/{job_id}").get_json()
            horses = children(worker.pid)
            this_attempt = job["attempts"] > len(kills)  # not killed yet
            if job["status"] == "started" and horses and this_attempt:
                os.kill(horses[0], signal.SIGKILL)
                kills.append(job["attempts"])
            stopping.wait(0.05)

    job_id = submit(client, long_digits())
    killer = threading.Thread(target=kill_each_attempt, daemon=True)
    killer.start()
    try:
        job = finished_job(client, job_id, timeout=240)
    finally:
        stopping.set()
        killer.join()
        stop(worker)
    assert kills == [1, 2, 3]  # the first attempt and its 2 retries
    assert job["status"] == "failed"
    assert job["attempts"] == 3
    assert job["error"]["type"] == "/problems/worker-lost"
    assert "on each of its 3 attempts" in job["error"]["detail"]


def test_a_resumed_job_can_be_canceled(own_queue: tuple[Settings, Any], tmp_path: Path) -> None:
    settings, client = own_queue
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        job_id = submit(client, long_digits())
        wait_until(
            lambda: client.get(f"/v1/jobs/{job_id}").get_json()["progress"]["epoch"] >= 2,
            timeout=120,
        )
        (horse,) = children(worker.pid)
        os.kill(horse, signal.SIGKILL)  # the horse only: the worker takes the job again
        wait_until(
            lambda: client.get(f"/v1/jobs/{job_id}").get_json()["resumed_from_epoch"],
            timeout=60,
        )
        response = client.post(f"/v1/jobs/{job_id}/cancel")
        assert response.status_code in (200, 202)
        job = finished_job(client, job_id, timeout=30)
        assert job["status"] == "canceled"
        assert job["attempts"] == 2
        assert ArtifactStore(settings.artifact_root).read_checkpoint(job_id) is None
    finally:
        stop(worker)
