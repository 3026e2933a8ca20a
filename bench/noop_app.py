"""The floor for the serving benchmark: a Flask app that parses the JSON body and
answers without any model, served by gunicorn's defaults with the service's worker
count, class (gthread) and threads (bench/serving.py)."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/noop")
def noop() -> dict[str, object]:
    body = request.get_json()
    return {"predictions": [[0.0]] * len(body["instances"])}
