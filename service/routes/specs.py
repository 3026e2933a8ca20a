"""/v1/summary: a spec's model built and counted without training (a dry run)."""

from __future__ import annotations

from typing import Any

from flask import request

from service.api import Blueprint, json_object
from service.auth import READ, requires
from service.context import services
from service.schemas.models import DryRunSummarySchema
from service.schemas.spec import DryRunSpecSchema, over_limits

bp = Blueprint(
    "specs", __name__, description="Training specs checked and counted without training."
)


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
