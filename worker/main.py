"""Worker start-up: `python -m worker.main [--burst]`.

TensorFlow is imported here, once, before RQ forks a work horse per job: each job starts
with Keras already loaded (~4 s saved per job) and any memory a job leaks dies with its
fork.
"""

from __future__ import annotations

import argparse
import logging

from rq import Queue, Worker
from rq.serializers import JSONSerializer

from service.config import Settings
from service.jobs import connect
from service.ml.artifacts import ArtifactStore
from worker import tasks


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
    worker = Worker([queue], connection=redis, serializer=JSONSerializer)
    worker.work(burst=args.burst, logging_level="INFO")


if __name__ == "__main__":
    main()
