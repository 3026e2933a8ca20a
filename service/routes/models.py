"""/v1/models/<ref>: predictions and summaries of trained models."""

from __future__ import annotations

from typing import Any

from flask import Response

from service import serving
from service.api import Blueprint
from service.auth import READ, requires
from service.context import services
from service.errors import ModelUnavailable
from service.http import resolve
from service.schemas.models import ModelSummarySchema, PredictRequestSchema, PredictResponseSchema

bp = Blueprint(
    "models",
    __name__,
    description="Predictions and summaries of trained models.",
)


@bp.post("/v1/models/<ref:ref>/predict")
@bp.arguments(PredictRequestSchema)
@bp.response(
    200,
    PredictResponseSchema,
    description="One answer per instance, in order.",
    headers=serving.ANSWER_HEADERS,
)
@bp.doc(parameters=[serving.ROUTING_PARAMETER])
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
    return serving.respond(WIRE, ref, body)


WIRE = serving.Wire(
    "native",
    PredictRequestSchema,
    inputs=lambda body: (body["instances"], "instances", body["return_"]),
    answer=lambda routed, body: serving.answer(routed, body["return_"]),
)


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
