"""/v1/jobs: submit a training spec, follow its job, list jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, request, url_for

from service.auth import FULL, READ, requires
from service.context import services
from service.errors import InvalidRequest, NotFound
from service.http import checked_job_id, json_body
from service.jobs import STATUSES, JobRecord
from service.limits import check_limits
from service.schemas import load_spec

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")

MAX_LIST = 100


@bp.post("")
@requires(FULL)
def submit_job() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Validate the spec, check it against its data and Keras, then queue it."""
    from service.ml.preflight import check_spec  # TensorFlow: imported on first use

    ctx = services()
    spec = load_spec(json_body())
    check_limits(spec, ctx.settings)
    check_spec(spec, ctx.settings.max_params)
    record = ctx.jobs.submit(spec)
    return job_resource(record), 202, {"Location": url_for("jobs.get_job", job_id=record.id)}


@bp.get("")
@requires(READ)
def list_jobs() -> dict[str, Any]:
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest(
            {"status": [f"Expected one of {', '.join(STATUSES)}. Received: {status!r}."]}
        )
    limit = request.args.get("limit", "20")
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIST:
        raise InvalidRequest(
            {"limit": [f"Expected an integer from 1 to {MAX_LIST}. Received: {limit!r}."]}
        )
    records = services().jobs.list(status=status, limit=int(limit))
    return {"jobs": [job_resource(r) for r in records]}


@bp.get("/<job_id>")
@requires(READ)
def get_job(job_id: str) -> dict[str, Any]:
    record = services().jobs.get(checked_job_id(job_id))
    if record is None:
        raise NotFound(f"No job {job_id}.")
    return job_resource(record)


def job_resource(record: JobRecord) -> dict[str, Any]:
    """The public JSON of a job."""
    result = record.result or {}
    return {
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "created_at": _iso(record.created_at),
        "started_at": _iso(record.started_at),
        "ended_at": _iso(record.ended_at),
        "progress": {"epoch": record.epoch, "epochs": record.epochs, "fraction": record.fraction},
        "history": record.history,
        "metrics": result.get("metrics"),
        "result": {k: v for k, v in result.items() if k != "metrics"} or None,
        "error": record.error,
        "links": {
            "self": url_for("jobs.get_job", job_id=record.id),
            "predict": url_for("models.predict", job_id=record.id),
            "summary": url_for("models.summary", job_id=record.id),
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
