"""Export builds on RQ: a worker converts a trained model (service.ml.export), because
the converter needs TensorFlow and takes seconds, which is no work for an API process.

Each (job, format) has one build, an RQ job with a deterministic ID on the high-priority
queue, so every API process finds it without a registry of its own, and a request while
it is queued or running is answered with it rather than queueing a second one. The
built file itself is an artifact of the job; this module only knows builds in flight
and builds that failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rq.job import Job

from service.errors import ExportFailed
from service.store import keys, translated
from service.store.jobs import JobQueue, status_of

TASK = "worker.tasks.export"  # by name: the API never imports the converter
# A claim (keys.export_claim) is held while a request checks for a build and queues
# one: of two requests at the same moment, one queues and the other reports that
# build. Expires by itself should the holder die; a build is queued in milliseconds.
CLAIM_TTL_S = 30
BUILD_TIMEOUT_S = 600
# How long a build's record stays: a failed build is reported this long (a POST retries
# it at once); a finished one is reported as its file.
RECORD_TTL_S = 24 * 3600

BUILDING = ("queued", "started")


@dataclass(frozen=True)
class ExportBuild:
    """A build's state: queued, started, finished or failed (with a problem saying why,
    without `status`)."""

    status: str
    error: dict[str, Any] | None = None

    @property
    def building(self) -> bool:
        return self.status in BUILDING


@translated
class ExportQueue:
    """Builds of exports on the high-priority queue of `jobs`."""

    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs
        self.queue = jobs.queues["high"]
        # Deployments sharing a Redis but not a queue (nor, perhaps, an artifact root)
        # keep their builds apart.
        self.prefix = re.sub(r"[^A-Za-z0-9_-]", "_", jobs.settings.queue_name)

    def build_id(self, job_id: str, export_format: str) -> str:
        return f"{self.prefix}-export-{job_id}-{export_format}"

    def get(self, job_id: str, export_format: str) -> ExportBuild | None:
        """The latest build of an export, if one is remembered."""
        job = self._fetch(self.build_id(job_id, export_format))
        return None if job is None else _build(job)

    def request(self, job_id: str, export_format: str) -> ExportBuild:
        """The build of an export: the one queued or running, or else a new one (after a
        failed build, a retry). The caller has checked that the export is not built."""
        build_id = self.build_id(job_id, export_format)
        current = self.get(job_id, export_format)
        if current is not None and current.building:
            return current
        claim = keys.export_claim(build_id)
        if not self.jobs.redis.set(claim, 1, nx=True, ex=CLAIM_TTL_S):
            # Another request is queueing this very build.
            current = self.get(job_id, export_format)
            return current if current is not None and current.building else ExportBuild("queued")
        try:
            old = self._fetch(build_id)  # read again: queued by a request that just let go
            if old is not None and _build(old).building:
                return _build(old)
            if old is not None:
                old.delete()  # the failed build, out of RQ's registries before its ID returns
            job = self.queue.enqueue(
                TASK,
                job_id,
                export_format,
                job_id=build_id,
                job_timeout=BUILD_TIMEOUT_S,
                result_ttl=RECORD_TTL_S,
                failure_ttl=RECORD_TTL_S,
                description=f"{export_format} export of {job_id}",
            )
            return _build(job)
        finally:
            self.jobs.redis.delete(claim)

    def _fetch(self, build_id: str) -> Job | None:
        return self.jobs.fetch(build_id)


def _build(job: Job) -> ExportBuild:
    status = status_of(job)
    if status not in ("failed", "canceled"):  # a stopped or canceled build failed too
        return ExportBuild(status)
    error = (job.meta or {}).get("error")
    if error is None:  # the work horse died without reporting: killed, out of memory, timeout
        error = ExportFailed(
            "The export's build stopped before it finished (its worker was stopped, ran out "
            f"of memory or ran longer than {BUILD_TIMEOUT_S} s). Ask for the export again."
        ).to_problem()
        del error["status"]
    return ExportBuild("failed", error)
