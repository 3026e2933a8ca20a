"""gunicorn settings; each can be overridden by the environment variable named."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from service.config import Settings
from service.logs import dict_config

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# One process per core: predictions and spec checks are CPU-bound.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
_settings = Settings.from_env()
# Threads per process. The full API's long-polls (`?wait=N`) and event streams hold a
# thread each while they wait, so one slow client must not block predictions: 8. A
# serving process (API_ROLE=serving) has no waiting routes and its work is CPU-bound
# under the GIL: 2, which measured 15-60 % more predictions/s than 8 (bench/README.md).
# gthread, answering the requests gunicorn itself refuses (414, 431, 400) as
# problem+json.
worker_class = "service.gunicorn_worker.ProblemWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "2" if _settings.api_role == "serving" else "8"))
# A listening socket per worker (SO_REUSEPORT): the kernel spreads new connections over
# the workers. On one shared socket, whichever worker wakes first accepts, and a burst
# of keep-alive connections can all land on one worker while the other idles.
reuse_port = True
# Enough for the first request of a worker that is still importing TensorFlow.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"
# Access lines with the fields we log and nothing else, written in batches: gunicorn's
# own logger cost ~20 % of a prediction's server time (service/access_log.py).
logger_class = "service.access_log.AccessLogger"

# One compute thread per process: with a process per core, BLAS and TensorFlow thread
# pools of their own only fight over the same cores. Measured (bench/serving.py): 32-row
# predictions went from ~5,600 to ~40,000 rows/s. Set here, in the master, so the workers
# inherit it before they import NumPy or TensorFlow.
_THREAD_POOLS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)
for _name in _THREAD_POOLS:
    os.environ.setdefault(_name, "1")

# Logs: JSON lines (LOG_FORMAT=text for plain ones) on stderr, gunicorn's own and its
# access lines included, each with the request's ID (service/logs.py).
logconfig_dict = dict_config(_settings.log_format)

# Prometheus metrics in multiprocess mode (service/metrics.py): each worker process
# writes its values to files in this directory and a scrape sums them. Set before any
# worker imports prometheus_client, which picks its mode on import. A directory of our
# own unless one is given; emptied at start, since values left by a previous run would
# be summed in.
_METRICS_DIR_IS_OURS = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _METRICS_DIR_IS_OURS:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="keras-service-metrics-")


def on_starting(server: Arbiter) -> None:
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()


def child_exit(server: Arbiter, worker: Worker) -> None:
    # A dead worker's counters stay in the sums; only its live gauges must go.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server: Arbiter, worker: Worker) -> None:
    # In the worker, as it stops: its shadow queue, open payload logs and last rollout
    # counters are finished rather than lost.
    from service.context import EXTENSION

    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get(EXTENSION)
    if services is not None:
        services.close()


def on_exit(server: Arbiter) -> None:
    if _METRICS_DIR_IS_OURS:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
