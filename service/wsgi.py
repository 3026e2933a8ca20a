"""gunicorn's entry point: `gunicorn --config python:service.gunicorn_conf service.wsgi:app`.

Each gunicorn worker imports this after the fork (no `--preload`), so threads the app
starts (ONNX Runtime's, the model revalidation) belong to the worker. TensorFlow is not
imported here: predictions run on ONNX Runtime, and only a process that is asked to
check a spec (a submission, a dry run) imports Keras, on that first request.
"""

import logging

import service.ml.predictor  # noqa: F401  ONNX Runtime (~50 ms) now, not in a first prediction
from service.app import create_app
from service.context import EXTENSION

app = create_app()
_loaded = app.extensions[EXTENSION].preload()
if _loaded:
    logging.getLogger(__name__).warning("preloaded models: %s", ", ".join(_loaded))
