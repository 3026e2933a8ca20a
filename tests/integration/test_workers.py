"""Scale-out: several workers share the queues, priorities order the work, and a
worker leaves after WORKER_MAX_JOBS jobs (scripts/run.sh starts it again).

Each test runs its own workers on a queue of their own, so the session's worker never
takes these jobs.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rq import Queue, Worker
from rq.job import Job

from service.app import create_app
from service.config import Settings
from service.store import connect
from tests.helpers import finished_job, quick_sum, start_worker, stop, submit, wait_until
from worker.main import HEARTBEAT_GRACE_S, MONITORING_INTERVAL_S, TrainingWorker, build_worker

pytestmark = pytest.mark.integration


def moment(job: dict[str, Any], field: str) -> datetime:
    return datetime.fromisoformat(job[field])


def registered(settings: Settings, count: int) -> None:
    """Wait until `count` workers serve the settings' queues (past their start-up)."""
    queue = Queue(settings.queue_name, connection=connect(settings))
    wait_until(lambda: len(Worker.all(queue=queue)) == count, timeout=120, interval=0.2)


@pytest.fixture
def own_queue(settings: Settings) -> tuple[Settings, Any]:
    """Settings and a client for queues no other worker serves."""
    mine = replace(settings, queue_name=f"workers-{uuid.uuid4().hex[:8]}")
    return mine, create_app(mine).test_client()


def test_a_worker_serves_every_priority_queue_highest_first(settings: Settings) -> None:
    worker = build_worker(replace(settings, queue_name="train"))
    assert worker.queue_names() == ["train-high", "train", "train-low"]


def test_a_worker_forks_a_horse_per_job_with_a_short_heartbeat(settings: Settings) -> None:
    worker = build_worker(settings)
    job = Job.create("worker.tasks.train", connection=connect(settings), timeout=3600)
    assert isinstance(worker, TrainingWorker)  # RQ's forking worker: a horse per job
    assert worker.get_heartbeat_ttl(job) == MONITORING_INTERVAL_S + HEARTBEAT_GRACE_S


def test_two_workers_train_two_jobs_at_the_same_time(
    own_queue: tuple[Settings, Any], tmp_path: Path
) -> None:
    settings, client = own_queue
    workers = [start_worker(settings, tmp_path / f"worker-{i}.log") for i in range(2)]
    try:
        registered(settings, 2)
        first, second = (submit(client, quick_sum(epochs=40)) for _ in range(2))
        a, b = (finished_job(client, job_id) for job_id in (first, second))
        assert a["status"] == b["status"] == "finished"
        # Each ran while the other did: two workers, not one after the other.
        assert moment(a, "started_at") < moment(b, "ended_at")
        assert moment(b, "started_at") < moment(a, "ended_at")
    finally:
        for worker in workers:
            stop(worker)


def test_a_worker_exits_cleanly_after_worker_max_jobs(
    own_queue: tuple[Settings, Any], tmp_path: Path
) -> None:
    settings, client = own_queue
    jobs = [submit(client, quick_sum()) for _ in range(3)]
    worker = start_worker(settings, tmp_path / "worker.log", env={"WORKER_MAX_JOBS": "2"})
    try:
        assert worker.wait(timeout=180) == 0
    finally:
        stop(worker)
    statuses = [client.get(f"/v1/jobs/{job_id}").get_json()["status"] for job_id in jobs]
    assert statuses == ["finished", "finished", "queued"]


def test_a_busy_worker_takes_high_then_default_then_low_priority_jobs(
    own_queue: tuple[Settings, Any], tmp_path: Path
) -> None:
    settings, client = own_queue
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        busy = submit(client, quick_sum(epochs=40))
        wait_until(
            lambda: client.get(f"/v1/jobs/{busy}").get_json()["status"] == "started",
            timeout=120,
        )
        # Queued while the worker is busy, lowest priority first.
        low = submit(client, quick_sum(queue="low"))
        default = submit(client, quick_sum())
        high = submit(client, quick_sum(queue="high"))
        order = sorted(
            (finished_job(client, job_id) for job_id in (low, default, high)),
            key=lambda job: moment(job, "started_at"),
        )
        assert [job["id"] for job in order] == [high, default, low]
        assert client.get(f"/v1/jobs/{busy}").get_json()["status"] == "finished"
    finally:
        stop(worker)
