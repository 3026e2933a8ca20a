"""gunicorn's entry point: `gunicorn --config python:service.gunicorn_conf service.wsgi:app`.

Each gunicorn worker imports this after the fork (no `--preload`): forking a process
that has already started TensorFlow's thread pools is not safe.
"""

import logging

# TensorFlow now, not on the first request that needs it (~4 s).
import service.ml.predictor
import service.ml.preflight  # noqa: F401
from service.app import create_app
from service.context import EXTENSION

app = create_app()
_loaded = app.extensions[EXTENSION].preload()
if _loaded:
    logging.getLogger(__name__).warning("preloaded models: %s", ", ".join(_loaded))
