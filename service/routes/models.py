"""/v1/models/<job_id>: predictions and summaries of trained models; /v1/summary for a
spec without training."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from service.auth import READ, requires
from service.context import services
from service.errors import ModelUnavailable
from service.http import check_fields, json_body, model_job_id
from service.limits import check_model_limits
from service.metrics import count_predicted_rows
from service.schemas import load_model_spec
from service.serving import answer, check_return, rows_batch

bp = Blueprint("models", __name__)


@bp.post("/v1/models/<job_id>/predict")
@requires(READ)
def predict(job_id: str) -> dict[str, Any]:
    """{"instances": [...], "return": "probabilities" | "classes" | "both"}."""
    ctx = services()
    body = json_body()
    check_fields(body, ("instances", "return"), ("instances",))
    predictor = ctx.predictor(model_job_id(job_id))
    wanted = check_return(body.get("return", "probabilities"), predictor)
    batch = rows_batch(body["instances"], predictor, ctx.settings.max_predict_rows, "instances")
    outputs = predictor.predict(batch)
    count_predicted_rows("native", len(batch))
    return answer(outputs, predictor, wanted)


@bp.get("/v1/models/<job_id>/summary")
@requires(READ)
def summary(job_id: str) -> dict[str, Any]:
    ctx = services()
    job_id = model_job_id(job_id)
    ctx.require_model(job_id)
    found = ctx.store.read(job_id, "summary")
    if found is None:
        raise ModelUnavailable(f"The summary of job {job_id} is missing from the artifact store.")
    return found


@bp.post("/v1/summary")
@requires(READ)
def dry_run_summary() -> dict[str, Any]:
    """The summary of a spec's model, built without training or allocating weights."""
    from service.ml.preflight import model_summary  # TensorFlow: imported on first use

    settings = services().settings
    spec = load_model_spec(json_body())
    check_model_limits(spec["model"], settings)
    return model_summary(spec["model"], settings.max_params)
