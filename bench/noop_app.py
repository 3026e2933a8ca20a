"""The floor for the serving benchmark: a Flask app that parses the JSON body and
answers without any model, served by gunicorn with the service's own settings."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/noop")
def noop() -> dict[str, object]:
    body = request.get_json()
    return {"predictions": [[0.0]] * len(body["instances"])}
