"""/v1/models/<job_id>: predictions and summaries of trained models; /v1/summary for a
spec without training."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from service.context import Services, services
from service.errors import InvalidInput, JobNotFinished, ModelUnavailable, NotFound
from service.http import checked_job_id, json_body
from service.ml.arrays import rows_to_array
from service.schemas import load_model_spec, load_predict_request

bp = Blueprint("models", __name__)


@bp.post("/v1/models/<job_id>/predict")
def predict(job_id: str) -> dict[str, Any]:
    ctx = services()
    body = load_predict_request(json_body())
    _require_model(ctx, checked_job_id(job_id))
    predictor = ctx.models.get(job_id)
    instances = body["instances"]
    limit = ctx.settings.max_predict_rows
    if isinstance(instances, list) and len(instances) > limit:
        raise InvalidInput(
            {"instances": [f"At most {limit:,} instances per request (MAX_PREDICT_ROWS)."]}
        )
    batch = rows_to_array(
        instances, "instances", InvalidInput, predictor.input_shape, "the model's input shape"
    )
    return {"predictions": predictor.predict(batch).tolist()}


@bp.get("/v1/models/<job_id>/summary")
def summary(job_id: str) -> dict[str, Any]:
    ctx = services()
    _require_model(ctx, checked_job_id(job_id))
    found = ctx.store.read(job_id, "summary")
    if found is None:
        raise ModelUnavailable(f"The summary of job {job_id} is missing from the artifact store.")
    return found


@bp.post("/v1/summary")
def dry_run_summary() -> dict[str, Any]:
    """The summary of a spec's model, built without training or allocating weights."""
    from service.ml.preflight import model_summary  # TensorFlow: imported on first use

    spec = load_model_spec(json_body())
    return model_summary(spec["model"], services().settings.max_params)


def _require_model(ctx: Services, job_id: str) -> None:
    """Return if the job's artifacts are stored; else say why in the right status."""
    if ctx.store.has_model(job_id):
        return
    record = ctx.jobs.get(job_id)
    if record is None:
        raise NotFound(f"No job {job_id}.")
    if record.status != "finished":
        raise JobNotFinished(
            f"Job {job_id} is {record.status}; its model is available once it has finished.",
            job_status=record.status,
        )
    raise ModelUnavailable(
        f"Job {job_id} finished, but its model is missing from the artifact store."
    )
