"""gunicorn's entry point: `gunicorn --config python:service.gunicorn_conf service.wsgi:app`."""

from service.app import create_app

app = create_app()

# Import TensorFlow now, in each gunicorn worker as it starts, rather than on the first
# request that needs it (~4 s). Not in the master: forking a process that has already
# started TensorFlow's thread pools is not safe.
import service.ml.predictor  # noqa: E402
import service.ml.preflight  # noqa: E402, F401
