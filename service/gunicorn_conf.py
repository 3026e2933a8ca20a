"""gunicorn settings; each can be overridden by the environment variable named."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# One process per core: predictions and spec checks are CPU-bound.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Enough for the first request of a worker that is still importing TensorFlow.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"
