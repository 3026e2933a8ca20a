"""Training jobs on RQ.

The API submits and reads jobs through `JobQueue`; the worker reports a running job's
progress through `JobReporter`. Both keep job state in RQ's own job hash (status and
timestamps from RQ, our fields in `job.meta`), so a job record lives and expires as one.
Jobs are serialized as JSON, never pickled: a spec is data and stays data.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from service.config import Settings
from service.errors import ServiceError, TrainingTimedOut, WorkerLost
from service.logs import current_request_id
from service.notify import RETRY_INTERVALS, TIMEOUT_S
from service.store import durations, keys, translated

TASK = "worker.tasks.train"  # by name: the API never imports the worker or TensorFlow
DELIVER_TASK = "worker.tasks.deliver"
HARD_TIMEOUT_MARGIN_S = 300
# RQ's statuses of a job that has not started.
WAITING = (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)

STATUSES = ("queued", "started", "finished", "failed", "canceled", "pruned")
# `pruned`: a sweep's trial that its pruner stopped (service.sweeps).
ENDED = ("finished", "failed", "canceled", "pruned")
# A spec's `queue`; workers serve them in this order (RQ takes from the first non-empty).
PRIORITIES = ("high", "default", "low")
# RQ's statuses folded into ours, for training jobs and export builds alike: a deferred
# or scheduled job is still waiting; one stopped by a worker was canceled.
STATUS_FROM_RQ = {
    JobStatus.QUEUED: "queued",
    JobStatus.DEFERRED: "queued",
    JobStatus.SCHEDULED: "queued",
    JobStatus.STARTED: "started",
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "canceled",
    JobStatus.CANCELED: "canceled",
}


def status_of(job: Job) -> str:
    """Our status of an RQ job, from what was last read of it."""
    return STATUS_FROM_RQ.get(job.get_status(refresh=False) or JobStatus.QUEUED, "queued")


@dataclass(frozen=True)
class JobRecord:
    """What a client may know of a job, independent of RQ."""

    id: str
    name: str | None
    status: str
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    epoch: int
    epochs: int
    history: dict[str, list[float | None]] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    queue: str = "default"
    diagnosis: dict[str, Any] | None = None  # set by the worker when training ends
    # A sweep's trial: {"id": sweep ID, "trial": number, "params": {path: value}}.
    sweep: dict[str, Any] | None = None
    attempts: int = 0  # times a worker started it (more than 1: its worker died)
    init_from: str | None = None  # the job whose model it started from (a warm start)
    notify: dict[str, Any] | None = None  # its webhook, with the deliveries so far
    resumed_from_epoch: int | None = None  # the checkpoint the last attempt started from

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def fraction(self) -> float:
        if self.status == "finished":
            return 1.0  # early stopping may end before `epochs`; the job is still done
        return round(self.epoch / self.epochs, 4) if self.epochs else 0.0


def queue_name(settings: Settings, priority: str = "default") -> str:
    """The RQ queue of a priority: QUEUE_NAME for default, QUEUE_NAME-high, -low."""
    return settings.queue_name if priority == "default" else f"{settings.queue_name}-{priority}"


def queue_names(settings: Settings) -> list[str]:
    """Every queue a worker serves, highest priority first."""
    return [queue_name(settings, p) for p in PRIORITIES]


@translated
class JobQueue:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.queues = {
            p: Queue(queue_name(settings, p), connection=redis, serializer=JSONSerializer)
            for p in PRIORITIES
        }

    def submit(
        self,
        spec: dict[str, Any],
        idempotency: tuple[str, str] | None = None,
        *,
        job_id: str | None = None,
        sweep: dict[str, Any] | None = None,
    ) -> tuple[JobRecord, bool]:
        """Queue a training job for a normalized spec; returns the job and whether it
        was created. With `idempotency` (key, body digest), a key already claimed
        returns the job that claimed it instead, created False; the caller compares
        digests (`claimed`). A sweep's trial comes with its ID and `sweep` (what the
        worker needs to report it: service.sweeps.runner)."""
        job_id = job_id or str(uuid.uuid4())
        if idempotency is not None:
            key, digest = idempotency
            claim = json.dumps({"job_id": job_id, "digest": digest})
            ttl = self.settings.job_ttl_s
            if not self.redis.set(keys.idempotency(key), claim, nx=True, ex=ttl):
                existing = self.claimed(key)
                record = self.get(existing[0]) if existing else None
                if record is not None:
                    return record, False
                self.redis.set(keys.idempotency(key), claim, ex=ttl)
        try:
            return self._enqueue(job_id, spec, sweep), True
        except Exception:
            if idempotency is not None:
                self.redis.delete(keys.idempotency(idempotency[0]))
            raise

    def claimed(self, key: str) -> tuple[str, str] | None:
        """The (job ID, body digest) an Idempotency-Key was first used with, if any."""
        raw = self.redis.get(keys.idempotency(key))
        if raw is None:
            return None
        found = json.loads(raw)
        return found["job_id"], found["digest"]

    def _enqueue(
        self, job_id: str, spec: dict[str, Any], sweep: dict[str, Any] | None = None
    ) -> JobRecord:
        fit = spec["fit"]
        # Indexed first: a listing skips (and forgets) IDs whose job is missing, so a
        # failure between the two writes leaves nothing visible behind.
        self.redis.zadd(keys.JOBS, {job_id: time.time()})
        job = self.queues[spec["queue"]].enqueue(
            TASK,
            spec,
            job_id=job_id,
            # A hard stop behind the fit's own deadline (fit.max_seconds, checked after
            # every batch), leaving time to evaluate and save.
            job_timeout=fit["max_seconds"] + HARD_TIMEOUT_MARGIN_S,
            # Queued again if its worker dies (RQ retries an abandoned job); a failure
            # the worker reports is final (JobReporter.failed).
            retry=Retry(max=self.settings.job_retries) if self.settings.job_retries else None,
            result_ttl=self.settings.job_ttl_s,
            failure_ttl=self.settings.job_ttl_s,
            # RQ would otherwise store a repr of the whole spec (inline data included).
            description=spec.get("name") or "training job",
            meta={
                "name": spec.get("name"),
                "epochs": fit["epochs"],
                "queue": spec["queue"],
                # An uploaded dataset the job trains on, and the job whose model it
                # starts from: neither may be deleted meanwhile.
                "dataset_id": spec["data"].get("dataset_id"),
                "init_from": (spec.get("init_from") or {}).get("job_id"),
                "notify": spec.get("notify"),
                # The submitting request's ID, for the worker's log lines of this job.
                "request_id": current_request_id(),
                **({"sweep": sweep} if sweep else {}),
            },
        )
        return self._record(job)

    def get(self, job_id: str) -> JobRecord | None:
        job = self.fetch(job_id)
        return self._record(job) if job is not None else None

    def fetch(self, job_id: str) -> Job | None:
        """Any RQ job of ours by ID (a training job, an export build, a batch
        prediction), as it is now: a started one whose worker died reads as RQ then
        has it (queued again, or failed), not `started`."""
        try:
            job = Job.fetch(job_id, connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return None
        if job.get_status(refresh=False) == JobStatus.STARTED and self.fail_abandoned():
            job.refresh()
        return job

    def cancel(self, job_id: str) -> JobRecord | None:
        """Ask a job to stop: a queued one never starts; a running fit stops after its
        current batch and the job ends `canceled` (the worker reads the flag). An ended
        job is returned as it is."""
        record = self.get(job_id)
        if record is None or record.ended:
            return record
        self.stop(job_id)
        return self.get(job_id)

    def stop(self, job_id: str) -> None:
        """Set the cancel flag a running job's worker reads, and cancel the job at once
        if it has not started."""
        # The flag first: a worker dequeuing the job right now sees it before starting.
        self.redis.set(keys.cancel(job_id), 1, ex=self.settings.job_ttl_s)
        job = self.fetch(job_id)
        if job is not None and job.get_status(refresh=False) in WAITING:
            with contextlib.suppress(InvalidJobOperation):  # canceled meanwhile
                job.cancel()
                # RQ records no end for a job that never started; the job ended now.
                job.meta["ended_at"] = _now()
                job.save_meta()

    def delete(self, job_id: str) -> None:
        """Forget an ended job: its record, index entry and flags (not its artifacts)."""
        try:
            job = Job.fetch(job_id, connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            job = None
        if job is not None:
            job.delete()
        self.redis.zrem(keys.JOBS, job_id)
        self.redis.delete(keys.cancel(job_id))

    def fail_abandoned(self) -> bool:
        """Mark failed the started jobs whose worker stopped renewing their heartbeat
        (killed, out of memory, machine lost), so no job reads `started` forever: RQ
        queues one with retries left again (it resumes from its checkpoint), and marks
        the others failed.

        RQ does this itself only in a live worker's periodic maintenance (every 10
        minutes); doing it when a started job is read makes the outcome visible within
        the worker's heartbeat grace even when no worker is left. Returns whether any
        job was marked failed or queued again. A lost job is retried at most
        JOB_RETRIES times: one that kills every worker it runs on (out of memory, say)
        then fails, saying so.
        """
        found = False
        for queue in self.queues.values():
            registry = StartedJobRegistry(queue=queue)
            if registry.get_expired_job_ids():
                registry.cleanup()
                found = True
        return found

    def list(
        self, status: str | None = None, limit: int = 20, sweep_id: str | None = None
    ) -> list[JobRecord]:
        """Jobs newest first, optionally only those with `status`, or a sweep's."""
        self.fail_abandoned()
        found: list[JobRecord] = []
        start, page = 0, max(limit, 50)
        while len(found) < limit:
            ids = [i.decode() for i in self.redis.zrevrange(keys.JOBS, start, start + page - 1)]
            if not ids:
                break
            jobs = Job.fetch_many(ids, connection=self.redis, serializer=JSONSerializer)
            expired = [job_id for job_id, job in zip(ids, jobs, strict=True) if job is None]
            if expired:
                self.redis.zrem(keys.JOBS, *expired)
                start -= len(expired)
            records = (self._record(job) for job in jobs if job is not None)
            found += [
                r
                for r in records
                if (status is None or r.status == status)
                and (sweep_id is None or (r.sweep or {}).get("id") == sweep_id)
            ]
            start += page
        return found[:limit]

    def queue_delivery(self, job_id: str, event: str) -> None:
        """Queue the webhook delivery of a job that has ended with `event` (the worker's
        `deliver`), retried with backoff (service.notify.RETRY_INTERVALS)."""
        self.queues["high"].enqueue(
            DELIVER_TASK,
            job_id,
            event,
            retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
            job_timeout=TIMEOUT_S * 3,
            result_ttl=self.settings.job_ttl_s,
            failure_ttl=self.settings.job_ttl_s,
            description=f"webhook of job {job_id}",
        )

    def record_delivery(self, job_id: str, attempt: dict[str, Any]) -> None:
        """Add a delivery attempt to a job's record (the job has ended: no other
        writer)."""
        try:
            job = Job.fetch(job_id, connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return
        job.meta.setdefault("deliveries", []).append(attempt)
        job.save_meta()

    def datasets_in_use(self) -> dict[str, list[str]]:
        """The uploaded datasets that queued or running jobs will train on: dataset ID
        -> those jobs' IDs."""
        return self.in_use("dataset_id")

    def warm_starts_in_use(self) -> dict[str, list[str]]:
        """The jobs whose models queued or running jobs start from (`init_from`): job
        ID -> those jobs' IDs."""
        return self.in_use("init_from")

    def in_use(self, what: str) -> dict[str, list[str]]:
        """What queued or running jobs name in their meta field `what`: value -> their
        IDs."""
        ids: list[str] = []
        for queue in self.queues.values():
            ids += queue.get_job_ids()
            ids += StartedJobRegistry(queue=queue).get_job_ids()
        using: dict[str, list[str]] = {}
        for job in Job.fetch_many(ids, connection=self.redis, serializer=JSONSerializer):
            used = (job.meta or {}).get(what) if job is not None else None
            if used and job.get_status(refresh=False) in (*WAITING, JobStatus.STARTED):
                using.setdefault(used, []).append(job.id)
        return using

    def ping(self) -> None:
        self.redis.ping()

    def census(self) -> tuple[dict[str, int], dict[str, int]]:
        """Jobs by status, and jobs waiting by priority, for metrics.

        Counted from RQ's queues and registries in one round trip: five counts a queue
        however many jobs are kept, so cheap enough for every scrape. What RQ knows,
        which differs from the job records in two ways: export builds (on the high
        queue) are counted too, and a fit canceled while running, or a pruned trial,
        counts as finished (RQ ran its function to the end). Started excludes lost
        workers' jobs (their heartbeat expired) until a read marks them failed.
        """
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        for queue in self.queues.values():
            pipe.llen(queue.key)
            pipe.zcount(queue.started_job_registry.key, now, "+inf")
            # Scores are expiry times: a registry keeps entries past their record's.
            pipe.zcount(queue.finished_job_registry.key, now, "+inf")
            pipe.zcount(queue.failed_job_registry.key, now, "+inf")
            pipe.zcard(queue.canceled_job_registry.key)
        counts = iter(pipe.execute())
        statuses = dict.fromkeys((s for s in STATUSES if s != "pruned"), 0)
        depths = {}
        for priority in self.queues:
            depths[priority] = next(counts)
            statuses["queued"] += depths[priority]
            for status in ("started", "finished", "failed", "canceled"):
                statuses[status] += next(counts)
        return statuses, depths

    def training_durations(self) -> dict[str, durations.Histogram]:
        """How long jobs trained, by outcome, as the workers observed them."""
        return durations.read(self.redis)

    def _record(self, job: Job) -> JobRecord:
        meta = job.meta or {}
        status = status_of(job)
        if meta.get("canceled"):  # the worker stopped the fit on request and returned
            status = "canceled"
        elif meta.get("pruned"):  # a sweep's pruner stopped the fit
            status = "pruned"
        error = meta.get("error")
        if status == "failed" and error is None:
            error = self._unreported_failure(job).to_problem()
            del error["status"]
        return JobRecord(
            id=job.id,
            name=meta.get("name"),
            status=status,
            created_at=utc(job.created_at),
            # The worker's own record of the start: RQ's started_at is written by the
            # worker and again by its work horse, milliseconds apart.
            started_at=_parsed(meta.get("started_at")) or utc(job.started_at),
            ended_at=utc(job.ended_at) or _parsed(meta.get("ended_at")),
            epoch=meta.get("epoch", 0),
            epochs=meta.get("epochs", 0),
            history=meta.get("history", {}),
            result=meta.get("result"),
            error=error,
            queue=meta.get("queue", "default"),
            diagnosis=meta.get("diagnosis"),
            sweep=_public_trial(meta.get("sweep")),
            attempts=meta.get("attempts", 0),
            init_from=meta.get("init_from"),
            notify=_notify(meta),
            resumed_from_epoch=meta.get("resumed_from_epoch"),
        )

    def _unreported_failure(self, job: Job) -> ServiceError:
        # The worker reports every failure it sees; one it did not report ended the work
        # horse itself. Say which in a user's words; RQ's traceback stays in Redis.
        result = job.latest_result()
        if result is not None and "JobTimeoutException" in (result.exc_string or ""):
            return TrainingTimedOut(
                "Training overran its time limit (fit.max_seconds) and was stopped while "
                "it could not stop itself. Use fewer epochs or a smaller model."
            )
        attempts = (job.meta or {}).get("attempts", 1)
        if attempts > 1:
            return WorkerLost(
                f"The worker stopped before the job finished on each of its {attempts} "
                "attempts (killed or out of memory every time). Try a smaller model or batch."
            )
        return WorkerLost(
            "The worker stopped before the job finished (it was killed or ran out of "
            "memory). Submit the job again; if it fails again, try a smaller model or batch."
        )


@translated
class JobReporter:
    """Writes a running job's progress, result or error into its record (worker side)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.job.meta.setdefault("history", {})

    def started(self) -> None:
        """Record when the job first started, as RQ has just marked it (clients read
        this `started_at`: RQ rewrites its own a moment later in the work horse, and
        again on each attempt), and count the attempt."""
        self.job.meta.setdefault("started_at", self.job.started_at.isoformat())
        self.job.meta["attempts"] = self.job.meta.get("attempts", 0) + 1
        self.job.save_meta()

    def resumed(self, epoch: int) -> None:
        """Record that this attempt goes on after `epoch`, from a checkpoint."""
        self.job.meta["resumed_from_epoch"] = epoch
        self.job.save_meta()

    def epoch(self, epoch: int, logs: dict[str, float | None]) -> None:
        """Record epoch `epoch` (1-based). An epoch that an earlier attempt reported
        but did not checkpoint is run again: its values replace the earlier ones, so
        the history holds each epoch once, and the progress never goes back."""
        history = self.job.meta["history"]
        for name, value in logs.items():
            values = history.setdefault(name, [])
            if len(values) >= epoch:
                values[epoch - 1] = value
            else:
                values.append(value)
        self.job.meta["epoch"] = max(epoch, self.job.meta.get("epoch", 0))
        self.job.save_meta()

    @property
    def history(self) -> dict[str, list[float | None]]:
        """The epochs reported so far."""
        return self.job.meta["history"]

    def finished(self, result: dict[str, Any], diagnosis: dict[str, Any] | None = None) -> None:
        self.job.meta["result"] = result
        self.job.meta["diagnosis"] = diagnosis
        self.job.save_meta()

    def cancel_requested(self) -> bool:
        return bool(self.job.connection.exists(keys.cancel(self.job.id)))

    def canceled(self) -> None:
        self.job.meta["canceled"] = True
        self.job.save_meta()

    def pruned(self) -> None:
        self.job.meta["pruned"] = True
        self.job.save_meta()

    def failed(self, error: ServiceError, diagnosis: dict[str, Any] | None = None) -> None:
        """Record why the job failed. Final: RQ retries only a job whose worker died,
        never one that failed for what it is (it would fail again)."""
        problem = error.to_problem()
        del problem["status"]  # the job failed; no HTTP exchange did
        self.job.meta["error"] = problem
        self.job.meta["diagnosis"] = diagnosis
        self.job.save_meta()
        self.give_up()

    def give_up(self) -> None:
        """No retry for this job, whatever RQ was told when it was queued: RQ reads this
        copy as it handles the exception being raised, and Redis's when it reads the
        job back first (worker.main's TrainingWorker does)."""
        self.job.retries_left = 0
        self.job.connection.hset(self.job.key, "retries_left", 0)


def _notify(meta: dict[str, Any]) -> dict[str, Any] | None:
    if not meta.get("notify"):
        return None
    return {**meta["notify"], "deliveries": meta.get("deliveries", [])}


def _public_trial(sweep: dict[str, Any] | None) -> dict[str, Any] | None:
    if sweep is None:
        return None
    return {"id": sweep["id"], "trial": sweep["trial"], "params": sweep["params"]}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _parsed(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment) if moment else None


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
