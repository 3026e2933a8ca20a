"""The TensorFlow Serving REST API, for clients that already speak it.

  POST /v1/models/<id>:predict     row format {"instances": [...]} -> {"predictions": [...]}
                                   columnar   {"inputs": ...}      -> {"outputs": ...}
  GET  /v1/models/<id>             version status
  GET  /v1/models/<id>/metadata    the serving_default signature

Each model has one version ("1") and one signature with one input and one output.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from service.auth import READ, requires
from service.context import services
from service.errors import InvalidInput, NotFound
from service.http import check_fields, json_body, model_job_id
from service.metrics import count_predicted_rows
from service.serving import INPUT, OUTPUT, VERSION, rows_batch

bp = Blueprint("tfserving", __name__)

SIGNATURE = "serving_default"
# Job status -> TF Serving's model version state.
_STATES = {
    "queued": "START",
    "started": "LOADING",
    "finished": "AVAILABLE",
    "failed": "END",
    "canceled": "END",
}


@bp.post("/v1/models/<job_id>:predict")
@requires(READ)
def predict(job_id: str) -> dict[str, Any]:
    ctx = services()
    body = json_body()
    check_fields(body, ("signature_name", "instances", "inputs"), ())
    if ("instances" in body) == ("inputs" in body):
        raise InvalidInput(
            {"instances": ["Give either 'instances' (row format) or 'inputs' (columnar)."]}
        )
    signature = body.get("signature_name", SIGNATURE)
    if signature != SIGNATURE:
        raise InvalidInput(
            {"signature_name": [f"Expected '{SIGNATURE}'. Received: {signature!r}."]}
        )
    predictor = ctx.predictor(model_job_id(job_id))
    limit = ctx.settings.max_predict_rows
    if "instances" in body:
        rows = [
            _unwrap(row, f"instances[{i}]")
            for i, row in enumerate(_list(body["instances"], "instances"))
        ]
        key, batch = "predictions", rows_batch(rows, predictor, limit, "instances")
    else:
        columns = _unwrap(body["inputs"], "inputs")
        key, batch = "outputs", rows_batch(columns, predictor, limit, "inputs")
    outputs = predictor.predict(batch)
    count_predicted_rows("tfserving", len(batch))
    return {key: outputs}


@bp.get("/v1/models/<job_id>")
@requires(READ)
def status(job_id: str) -> dict[str, Any]:
    ctx = services()
    job_id = model_job_id(job_id)
    if ctx.store.has_model(job_id):
        state, error = "AVAILABLE", None
    else:
        record = ctx.jobs.get(job_id)
        if record is None:
            raise NotFound(f"No job {job_id}.")
        state, error = _STATES[record.status], record.error
    code = "OK" if error is None else "UNKNOWN"
    message = "" if error is None else error.get("detail", "")
    return {
        "model_version_status": [
            {
                "version": VERSION,
                "state": state,
                "status": {"error_code": code, "error_message": message},
            }
        ]
    }


@bp.get("/v1/models/<job_id>/metadata")
@requires(READ)
def metadata(job_id: str) -> dict[str, Any]:
    predictor = services().predictor(model_job_id(job_id))
    return {
        "model_spec": {"name": job_id, "signature_name": "", "version": VERSION},
        "metadata": {
            "signature_def": {
                "signature_def": {
                    SIGNATURE: {
                        "inputs": {INPUT: _tensor_info(INPUT, predictor.input_shape)},
                        "outputs": {OUTPUT: _tensor_info(OUTPUT, predictor.output_shape)},
                        "method_name": "tensorflow/serving/predict",
                    }
                }
            }
        },
    }


def _tensor_info(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    dims = [{"size": "-1", "name": ""}] + [{"size": str(d), "name": ""} for d in shape]
    return {
        "dtype": "DT_FLOAT",
        "tensor_shape": {"dim": dims, "unknown_rank": False},
        "name": f"{name}:0",
    }


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise InvalidInput({path: ["Expected a non-empty list."]})
    return value


def _unwrap(value: Any, path: str) -> Any:
    """TF Serving lets a single named input be given bare or as {"<name>": value}."""
    if not isinstance(value, dict):
        return value
    if set(value) != {INPUT}:
        raise InvalidInput(
            {path: [f"This model has one input, named '{INPUT}'. Received: {sorted(value)}."]}
        )
    return value[INPUT]
