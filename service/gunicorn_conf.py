"""gunicorn settings; each can be overridden by the environment variable named."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# One process per core: predictions and spec checks are CPU-bound.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads per process: long-polls (`?wait=N`) and event streams hold a thread each
# while they wait, so one slow client must not block predictions. CPU work still runs
# one request at a time per process (the GIL), as with sync workers.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Enough for the first request of a worker that is still importing TensorFlow.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"

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
