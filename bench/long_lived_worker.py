"""The alternative bench/jobs.py weighs against the service's worker: one long-lived
process that trains every job itself (RQ's SimpleWorker), no fork per job.

`python -m bench.long_lived_worker`, with the worker's environment. For measuring only:
a job that crashes or runs out of memory takes this whole worker down, and no heartbeat
is renewed while a job runs (the forking worker's parent does that).
"""

from __future__ import annotations

from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue

from worker.main import main


class LongLivedWorker(SimpleWorker):
    """Trains in its own process and drops Keras's global state after each job, as a
    long-lived training process would have to."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        super().execute_job(job, queue)
        import keras

        keras.backend.clear_session()


if __name__ == "__main__":
    main(worker_class=LongLivedWorker)
