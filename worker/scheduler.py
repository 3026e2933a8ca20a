"""The RQ scheduler: `python -m worker.scheduler`.

It puts jobs that wait for a time back on their queues when it comes: webhook
deliveries retried with backoff (service.notify). One process for the whole service,
apart from the training workers (RQ's `--with-scheduler` would fork it as a child of a
worker); any number may run, RQ's locks let one work each queue at a time. Light: no
TensorFlow.
"""

from __future__ import annotations

import logging.config

from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from service.config import Settings
from service.logs import dict_config
from service.store import connect
from service.store.jobs import queue_names


def main() -> None:
    settings = Settings.from_env()
    logging.config.dictConfig(dict_config(settings.log_format))
    scheduler = RQScheduler(
        queue_names(settings), connection=connect(settings), serializer=JSONSerializer
    )
    scheduler.acquire_locks()
    scheduler.work()  # until SIGTERM or SIGINT


if __name__ == "__main__":
    main()
