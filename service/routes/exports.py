"""/v1/models/<ref>/exports: a trained model as a TensorFlow SavedModel or a TFLite file,
built once by a worker and then kept as an artifact of its job."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from service.auth import FULL, READ, requires
from service.context import Services, services
from service.errors import InvalidRequest, NotFound
from service.exports import ExportBuild
from service.http import check_fields, json_body, model_job_id
from service.ml.artifacts import EXPORT_FILES
from service.routes.artifacts import download_link
from service.schemas import choice_message

bp = Blueprint("exports", __name__)

READY = "ready"


@bp.post("/v1/models/<job_id>/exports")
@requires(FULL)
def create_export(job_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """{"format": "savedmodel" | "tflite"}: 200 when the export is built already, else
    202 while a worker builds it (one build however often it is asked for)."""
    body = json_body()
    check_fields(body, ("format",), ("format",), error=InvalidRequest)
    export_format = body["format"]
    if export_format not in EXPORT_FILES:
        raise InvalidRequest({"format": [choice_message(export_format, EXPORT_FILES, "format")]})
    ctx = services()
    job_id = model_job_id(job_id)
    ctx.require_model(job_id)
    location = {"Location": url_for("exports.get_export", job_id=job_id, format=export_format)}
    if is_built(ctx, job_id, export_format):
        return export_resource(job_id, export_format, READY), 200, location
    build = ctx.exports.request(job_id, export_format)
    return export_resource(job_id, export_format, build.status, build.error), 202, location


@bp.get("/v1/models/<job_id>/exports/<format>")
@requires(READ)
def get_export(job_id: str, format: str) -> dict[str, Any]:
    """The export's state: ready (with its download link), queued, started or failed."""
    if format not in EXPORT_FILES:
        raise NotFound(f"No export format {format!r}. Expected one of: {', '.join(EXPORT_FILES)}.")
    ctx = services()
    job_id = model_job_id(job_id)
    ctx.require_model(job_id)
    state = export_state(ctx, job_id, format)
    if state is None:
        raise NotFound(
            f"Job {job_id} has no {format} export; POST "
            f"{url_for('exports.create_export', job_id=job_id)} to build it."
        )
    return export_resource(job_id, format, state.status, state.error)


def export_state(ctx: Services, job_id: str, export_format: str) -> ExportBuild | None:
    """Ready if its file is stored; else its build's state, if one is remembered."""
    if is_built(ctx, job_id, export_format):
        return ExportBuild(READY)
    build = ctx.exports.get(job_id, export_format)
    if build is not None and build.status == "finished":
        # Stored since the check above, or removed since it was built (then: none).
        return ExportBuild(READY) if is_built(ctx, job_id, export_format) else None
    return build


def is_built(ctx: Services, job_id: str, export_format: str) -> bool:
    return any(f.name == EXPORT_FILES[export_format] for f in ctx.store.files(job_id))


def export_resource(
    job_id: str, export_format: str, status: str, error: dict[str, Any] | None = None
) -> dict[str, Any]:
    links = {"self": url_for("exports.get_export", job_id=job_id, format=export_format)}
    if status == READY:
        links["download"] = download_link(job_id, EXPORT_FILES[export_format])
    resource: dict[str, Any] = {"format": export_format, "status": status, "links": links}
    if error is not None:
        resource["error"] = error
    return resource
