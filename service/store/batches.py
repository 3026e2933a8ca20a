"""Batch predictions on RQ: a worker streams an uploaded dataset through a trained
model (service.ml.batch) and stores the predictions as CSV among the artifacts.

A batch prediction is an RQ job on one of the priority queues (`low` unless asked),
its request and progress in the job's meta, like a training job's; it is listed under
its own index, so it never shows among the training jobs.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rq.job import Job

from service.errors import WorkerLost
from service.store import keys, translated
from service.store.jobs import JobQueue, status_of, utc

TASK = "worker.tasks.batch_predict"  # by name: the API never imports the worker


@dataclass(frozen=True)
class BatchRecord:
    id: str
    status: str  # queued, started, finished, failed, canceled
    request: dict[str, Any]  # model job ID, dataset ID, columns, return, rows
    rows_done: int
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error: dict[str, Any] | None
    result: dict[str, Any] | None  # rows, bytes, seconds, once finished


@translated
class BatchQueue:
    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs

    def submit(self, request: dict[str, Any], priority: str) -> BatchRecord:
        batch_id = str(uuid.uuid4())
        self.jobs.redis.zadd(keys.BATCHES, {batch_id: time.time()})
        job = self.jobs.queues[priority].enqueue(
            TASK,
            request,
            job_id=batch_id,
            job_timeout=self.jobs.settings.job_timeout_s,
            result_ttl=self.jobs.settings.job_ttl_s,
            failure_ttl=self.jobs.settings.job_ttl_s,
            description=f"batch prediction with {request['job_id']}",
            meta={"kind": "batch", "request": request, "rows_done": 0},
        )
        return _record(job)

    def get(self, batch_id: str) -> BatchRecord | None:
        job = self._fetch(batch_id)
        return _record(job) if job is not None else None

    def cancel(self, batch_id: str) -> BatchRecord | None:
        """A queued batch never starts; a running one stops after its current chunk."""
        if self._fetch(batch_id) is None:
            return None
        self.jobs.stop(batch_id)
        return self.get(batch_id)

    def _fetch(self, batch_id: str) -> Job | None:
        if self.jobs.redis.zscore(keys.BATCHES, batch_id) is None:
            return None  # not a batch prediction (a training job, say)
        return self.jobs.fetch(batch_id)


def _record(job: Job) -> BatchRecord:
    meta = job.meta or {}
    status = "canceled" if meta.get("canceled") else status_of(job)
    error = meta.get("error")
    if status == "failed" and error is None:  # its work horse died without a word
        error = WorkerLost(
            "The worker stopped before the batch prediction finished. Ask again."
        ).to_problem()
        del error["status"]
    return BatchRecord(
        id=job.id,
        status=status,
        request=meta.get("request", {}),
        rows_done=meta.get("rows_done", 0),
        created_at=utc(job.created_at),
        started_at=utc(job.started_at),
        ended_at=utc(job.ended_at),
        error=error,
        result=meta.get("result"),
    )
