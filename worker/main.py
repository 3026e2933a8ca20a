"""Worker start-up: `python -m worker.main [--burst]`.

TensorFlow is imported here, once, before RQ forks a work horse per job: each job starts
with Keras already loaded (~4 s saved per job) and any memory a job leaks dies with its
fork.
"""

from __future__ import annotations

import argparse
import logging

from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from service.config import Settings
from service.jobs import connect
from service.ml.artifacts import ArtifactStore
from worker import tasks

# The worker checks on its work horse this often and renews the job's heartbeat in
# Redis each time. A job whose heartbeat is older than the interval plus the grace is
# abandoned: its worker died (SIGKILL, OOM, lost machine) and any reader marks it failed
# (service.jobs). RQ's own grace is 60 s; a fit that cannot renew a heartbeat for 15 s
# means a dead worker, not a busy one, because the parent process only waits.
MONITORING_INTERVAL_S = 5
HEARTBEAT_GRACE_S = 10


class TrainingWorker(Worker):
    """RQ's forking worker with a shorter heartbeat, so lost jobs fail in seconds."""

    def get_heartbeat_ttl(self, job: Job) -> int:
        ttl = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            ttl = min(ttl, job.timeout - self.current_job_working_time)
        return int(ttl) + HEARTBEAT_GRACE_S


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a training worker.")
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings.from_env()
    import service.ml.training  # noqa: F401  (warm import: TensorFlow and Keras)

    tasks.configure(settings)
    # A worker killed mid-save leaves a hidden partial directory; nothing reads those,
    # but they take space.
    ArtifactStore(settings.artifact_root).remove_partials(older_than_s=settings.job_timeout_s)
    redis = connect(settings)
    queue = Queue(settings.queue_name, connection=redis, serializer=JSONSerializer)
    worker = TrainingWorker(
        [queue],
        connection=redis,
        serializer=JSONSerializer,
        job_monitoring_interval=MONITORING_INTERVAL_S,
    )
    worker.work(burst=args.burst, logging_level="INFO")


if __name__ == "__main__":
    main()
