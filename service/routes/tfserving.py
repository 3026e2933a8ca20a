"""The TensorFlow Serving REST API, for clients that already speak it.

  POST /v1/models/<ref>:predict     row format {"instances": [...]} -> {"predictions": [...]}
                                    columnar   {"inputs": ...}      -> {"outputs": ...}
  GET  /v1/models/<ref>             version status
  GET  /v1/models/<ref>/metadata    the serving_default signature

Each model has one version ("1"), which the same routes also serve under
`/v1/models/<ref>/versions/1`, and one signature (a predict signature) with one input
and one output: `:classify` and `:regress` are answered as TF Serving answers them for
such a model, with a 400.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from service import serving
from service.api import Blueprint
from service.auth import READ, requires
from service.context import services
from service.errors import NotFound, UnsupportedSignatureMethod
from service.http import resolve
from service.rollouts.traffic import Routed
from service.schemas.tfserving import (
    SIGNATURE,
    TFServingModelMetadataSchema,
    TFServingModelStatusSchema,
    TFServingPredictResponseSchema,
    TFServingPredictSchema,
)
from service.serving import INPUT, OUTPUT, VERSION

bp = Blueprint(
    "tfserving",
    __name__,
    protocol=True,
    description=(
        "The TensorFlow Serving REST API (predict, model status, model metadata): the model "
        "name is the job's ID or an alias, its only version `1`, its only signature "
        "`serving_default`. Problems carry an `error` member."
    ),
)
# Job status -> TF Serving's model version state.
_STATES = {
    "queued": "START",
    "started": "LOADING",
    "finished": "AVAILABLE",
    "failed": "END",
    "canceled": "END",
    "pruned": "END",
}


VERSIONED = f'/v1/models/<ref:ref>/versions/<any("{VERSION}"):version>'


@bp.post("/v1/models/<ref:ref>:predict")
@bp.post(f"{VERSIONED}:predict", endpoint="predict_version")
@bp.arguments(TFServingPredictSchema, location="any_json")
@bp.response(
    200,
    TFServingPredictResponseSchema,
    description="The model's outputs.",
    headers=serving.ANSWER_HEADERS,
)
@bp.doc(parameters=[serving.ROUTING_PARAMETER])
@bp.problems(409, 503)
@requires(READ)
def predict(body: dict[str, Any], ref: str, version: str = VERSION) -> Response:
    """Predict (TensorFlow Serving REST)

    Row format (`instances`) or columnar format (`inputs`), as TF Serving takes them, for
    the model's one signature.
    """
    return serving.respond(WIRE, ref, body)


def _rows(body: dict[str, Any]) -> tuple[list[Any], str, str]:
    field = "instances" if "instances" in body else "inputs"
    return body[field], field, "probabilities"


def _answer(routed: Routed, body: dict[str, Any]) -> dict[str, Any]:
    # Rows answer as `predictions`, columns as `outputs`, as TF Serving does.
    return {"predictions" if "instances" in body else "outputs": routed.outputs}


WIRE = serving.Wire("tfserving", TFServingPredictSchema, _rows, _answer)


@bp.post("/v1/models/<ref:ref>:<any(classify, regress):method>")
@bp.post(f"{VERSIONED}:<any(classify, regress):method>", endpoint="other_method_version")
@bp.response(400, description="This model has no such signature method.")
@requires(READ)
def other_method(ref: str, method: str, version: str = VERSION) -> Response:
    """Classify or regress (TensorFlow Serving REST)

    Each model here has one signature, `serving_default`, a predict signature: like TF
    Serving for such a model, these answer 400. Use `:predict` (and our `/predict` with
    `"return": "classes"` for class labels).
    """
    raise UnsupportedSignatureMethod(
        f"Expected a {method} signature; this model's only signature, {SIGNATURE}, is a "
        "predict signature. Use :predict."
    )


@bp.get("/v1/models/<ref:ref>")
@bp.get(VERSIONED, endpoint="status_version")
@bp.response(200, TFServingModelStatusSchema, description="The model's version status.")
@requires(READ)
def status(ref: str, version: str = VERSION) -> dict[str, Any]:
    """Model status (TensorFlow Serving REST)

    The one version's state, from the job's status.
    """
    ctx = services()
    job_id = resolve(ref)
    if ctx.artifacts.has_model(job_id):
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


@bp.get("/v1/models/<ref:ref>/metadata")
@bp.get(f"{VERSIONED}/metadata", endpoint="metadata_version")
@bp.response(200, TFServingModelMetadataSchema, description="The model's signature.")
@bp.problems(409, 503)
@requires(READ)
def metadata(ref: str, version: str = VERSION) -> dict[str, Any]:
    """Model metadata (TensorFlow Serving REST)

    The `serving_default` signature: input `input`, output `output`.
    """
    predictor = services().predictor(resolve(ref))
    return {
        "model_spec": {"name": ref, "signature_name": "", "version": VERSION},
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
