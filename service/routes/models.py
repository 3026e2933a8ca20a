"""/v1/models/<ref>: predictions and summaries of trained models; /v1/summary for a
spec without training."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from service.api import Blueprint, json_object
from service.auth import READ, requires
from service.context import services
from service.errors import ModelUnavailable
from service.http import resolve
from service.metrics import count_predicted_rows
from service.schemas.models import (
    DryRunSummarySchema,
    ModelSummarySchema,
    PredictRequestSchema,
    PredictResponseSchema,
)
from service.schemas.spec import DryRunSpecSchema, over_limits
from service.serving import answer, check_return, rows_batch

bp = Blueprint(
    "models",
    __name__,
    description="Predictions and summaries of trained models; dry-run summaries of specs.",
)


@bp.post("/v1/models/<ref:ref>/predict")
@bp.arguments(PredictRequestSchema)
@bp.response(200, PredictResponseSchema, description="One answer per instance, in order.")
@bp.problems(409, 503)
@requires(READ)
def predict(body: dict[str, Any], ref: str) -> Response:
    """Predict with a trained model

    Runs the finished job's model on `instances`, one row per instance, each shaped like
    the model's input and holding only finite numbers within float32's range; at most
    MAX_PREDICT_ROWS rows per request. Models with a Normalization layer take raw inputs.

    `return` picks the answer: `probabilities` (the default) gives the model's raw
    outputs as `predictions`; `classes` gives each row's class label as `classes`;
    `both` gives both. A model trained with a regression loss has no classes.
    """
    ctx = services()
    predictor = ctx.predictor(resolve(ref))
    wanted = check_return(body["return_"], predictor)
    batch = rows_batch(body["instances"], predictor, "instances")
    outputs = predictor.predict(batch)
    count_predicted_rows("native", len(batch))
    # A Response, not a dict: the answer is made as described, without dumping it again.
    return current_app.json.response(answer(outputs, predictor, wanted))


@bp.get("/v1/models/<ref:ref>/summary")
@bp.response(200, ModelSummarySchema, description="The model's summary.")
@bp.problems(409, 503)
@requires(READ)
def summary(ref: str) -> dict[str, Any]:
    """Summarize a trained model

    The layers, output shapes and parameter counts of the finished job's model, as Keras
    counts them.
    """
    ctx = services()
    job_id = resolve(ref)
    ctx.require_model(job_id)
    found = ctx.artifacts.read(job_id, "summary")
    if found is None:
        raise ModelUnavailable(f"The summary of job {job_id} is missing from the artifact store.")
    return found


@bp.post("/v1/summary")
@bp.arguments(DryRunSpecSchema)
@bp.response(200, DryRunSummarySchema, description="The model's summary and its limits.")
@requires(READ)
def dry_run_summary(spec: dict[str, Any]) -> dict[str, Any]:
    """Summarize a spec's model without training it

    A dry run: builds the spec's `model` with Keras, shapes only (no weights are
    allocated and nothing is queued, so a spec of billions of parameters is counted in
    milliseconds), and returns its summary. Only `model` is required; the other fields
    are validated when given, but the spec is not checked against its data. The
    service's limits (MAX_LAYERS, MAX_UNITS, MAX_EPOCHS, MAX_PARAMS,
    MAX_ACTIVATION_BYTES, ...) are not refused here: `over_limits` names each one the
    spec is over, which a submission would refuse.
    """
    from service.ml.preflight import limit_errors, model_summary  # TensorFlow, on first use

    settings = services().settings
    summary = model_summary(spec["model"])
    found = over_limits(json_object(request), settings) | limit_errors(summary, spec, settings)
    return {**summary, "over_limits": found}
