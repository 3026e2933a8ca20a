"""Worker start-up: `python -m worker.main [--burst]`.

TensorFlow is imported here, once; RQ then forks a work horse per job from this warm
process, so a job starts with Keras loaded (~4 s saved per job). A fork per job was
measured against one long-lived process training every job (RQ's SimpleWorker;
bench/jobs.py, numbers in bench/README.md): each fork pays TensorFlow's first-fit
set-up again (~0.35 s a job), but the worker's memory stays flat where the long-lived
process grew ~5 MB a job, a job that runs out of memory or crashes takes only its own
horse down, and RQ's hard timeout can kill a fit stuck in native code. The worker serves
the priority queues highest first and exits after WORKER_MAX_JOBS jobs (scripts/run.sh
starts it again).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.config
import time
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.worker import BaseWorker

from service.config import Settings
from service.logs import dict_config, request_context
from service.ml.artifacts import ArtifactStore
from service.ml.uploads import DatasetStore
from service.store import connect
from service.store.aliases import AliasStore
from service.store.jobs import JobQueue, JobReporter, queue_names
from service.store.sweeps import SweepStore
from service.sweeps.runner import SweepRunner
from worker import tasks

log = logging.getLogger(__name__)

# The worker checks on its work horse this often and renews the job's heartbeat in
# Redis each time. A job whose heartbeat is older than the interval plus the grace is
# abandoned: its worker died (SIGKILL, OOM, lost machine) and any reader marks it failed
# (service.store.jobs). RQ's own grace is 60 s; a fit that cannot renew a heartbeat for 15 s
# means a dead worker, not a busy one, because the parent process only waits.
MONITORING_INTERVAL_S = 5
HEARTBEAT_GRACE_S = 10
# An idle worker wakes this often (RQ waits on the queues for its TTL less 15 s) and
# runs its maintenance when it is due: RQ's cleanup, which queues again the jobs of dead
# workers (to resume from their checkpoints) with nobody reading them, and the sweeps'.
WORKER_TTL_S = 45
MAINTENANCE_S = 30
# Retention sweeps the artifact store: every 10 minutes is enough.
RETENTION_S = 600


class TrainingWorker(Worker):
    """RQ's forking worker with a shorter heartbeat, so lost jobs fail in seconds, with
    artifact retention (ARTIFACT_TTL) in its periodic maintenance, and with each job's
    request ID on the lines logged while it runs."""

    settings: Settings | None = None
    _retention_at = -float("inf")

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        if self.settings is None:
            return
        reconcile_sweeps(self.settings, self.connection)
        if time.monotonic() - self._retention_at < RETENTION_S:
            return
        self._retention_at = time.monotonic()
        if self.settings.artifact_ttl_s > 0:
            expire_artifacts(self.settings, self.connection)
        if self.settings.dataset_ttl_s > 0:
            expire_datasets(self.settings, self.connection)

    def execute_job(self, job: Job, queue: Queue) -> None:
        # Set before the work horse is forked, so that every line about this job, the
        # horse's (ours and RQ's) and this process's while it watches, carries the ID
        # of the request that submitted it.
        with request_context((job.meta or {}).get("request_id")):
            super().execute_job(job, queue)

    def prepare_job_execution(self, job: Job, *args: Any, **kwargs: Any) -> None:
        super().prepare_job_execution(job, *args, **kwargs)
        JobReporter(job).started()

    def handle_job_failure(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        # When a work horse dies, this process's copy of its job dates from the job's
        # start, and RQ saves it whole as it queues the job again: read back what the
        # horse wrote first (its history, its progress, whether it failed for good),
        # or the retry would lose it.
        with contextlib.suppress(NoSuchJobError):
            job.refresh()
        super().handle_job_failure(job, queue, *args, **kwargs)

    def get_heartbeat_ttl(self, job: Job) -> int:
        ttl = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            ttl = min(ttl, job.timeout - self.current_job_working_time)
        return int(ttl) + HEARTBEAT_GRACE_S


def expire_artifacts(settings: Settings, redis: Redis) -> list[str]:
    """Delete the artifacts saved more than ARTIFACT_TTL ago, except those of jobs an
    alias points at; their job records go too. Returns the job IDs removed."""
    keep = {alias.job_id for alias in AliasStore(redis).list()}
    store = ArtifactStore(settings.artifact_root, settings.artifact_cache)
    removed = store.expire(settings.artifact_ttl_s, keep)
    jobs = JobQueue(redis, settings)
    for job_id in removed:
        jobs.delete(job_id)
    if removed:
        log.info("retention: removed %d jobs older than ARTIFACT_TTL", len(removed))
    return removed


def expire_datasets(settings: Settings, redis: Redis) -> list[str]:
    """Delete the datasets uploaded more than DATASET_TTL ago, except those queued or
    running jobs will train on. Returns the dataset IDs removed."""
    keep = set(JobQueue(redis, settings).datasets_in_use())
    store = DatasetStore(ArtifactStore(settings.artifact_root, settings.artifact_cache))
    removed = store.expire(settings.dataset_ttl_s, keep)
    if removed:
        log.info("retention: removed %d datasets older than DATASET_TTL", len(removed))
    return removed


def reconcile_sweeps(settings: Settings, redis: Redis) -> None:
    """Settle the lost trials of the sweeps still running and go on with them: a sweep
    whose every trial was lost to dead workers (nobody left to report one) resumes here
    without waiting for a client to read it."""
    sweeps = SweepStore(redis)
    runner = SweepRunner(sweeps, JobQueue(redis, settings), AliasStore(redis), settings)
    for sweep_id in sweeps.ids(limit=100):
        try:
            runner.reconcile(sweep_id)
        except Exception:
            log.exception("sweep %s: reconcile failed", sweep_id)


def warm_imports() -> None:
    """Import what every fit needs before any horse is forked, so no job pays for it.

    Python modules only: TensorFlow's runtime (its thread pools) must not start in this
    process, because threads do not survive a fork and a horse would hang on them.
    """
    # The first fit imports scikit-learn's loaders and splitter lazily: ~0.1 s a horse.
    import sklearn.datasets
    import sklearn.model_selection  # noqa: F401

    import service.ml.conversion  # tf2onnx and ONNX, for every saved model
    import service.ml.training  # noqa: F401  (TensorFlow and Keras, ~4 s)


def build_worker(settings: Settings, worker_class: type[BaseWorker] = TrainingWorker) -> BaseWorker:
    """A worker on every priority queue, highest first: RQ takes the next job from the
    first queue that has one."""
    redis = connect(settings)
    queues = [
        Queue(name, connection=redis, serializer=JSONSerializer) for name in queue_names(settings)
    ]
    worker = worker_class(
        queues,
        connection=redis,
        serializer=JSONSerializer,
        job_monitoring_interval=MONITORING_INTERVAL_S,
        worker_ttl=WORKER_TTL_S,
        maintenance_interval=MAINTENANCE_S,
    )
    worker.settings = settings  # for TrainingWorker's maintenance
    return worker


def main(argv: list[str] | None = None, worker_class: type[BaseWorker] = TrainingWorker) -> None:
    parser = argparse.ArgumentParser(description="Run a training worker.")
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    logging.config.dictConfig(dict_config(settings.log_format))
    warm_imports()
    tasks.configure(settings)
    # A worker killed mid-save leaves a hidden partial directory; nothing reads those,
    # but they take space.
    ArtifactStore(settings.artifact_root).remove_partials(older_than_s=settings.job_timeout_s)
    worker = build_worker(settings, worker_class)
    worker.work(burst=args.burst, max_jobs=settings.worker_max_jobs or None, logging_level="INFO")


if __name__ == "__main__":
    main()
