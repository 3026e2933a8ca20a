"""/v1/models/<ref>/exports: a trained model as a TensorFlow SavedModel or a TFLite file,
built once by a worker and then kept as an artifact of its job."""

from __future__ import annotations

from typing import Any

from flask import url_for

from service.api import Blueprint, location_header
from service.auth import FULL, READ, requires
from service.context import Services, services
from service.errors import NotFound
from service.http import resolve
from service.ml.artifacts import EXPORT_ALIASES, EXPORT_FILES
from service.routes.artifacts import download_link
from service.schemas.artifacts import ExportRequestSchema, ExportSchema
from service.store.exports import ExportBuild

bp = Blueprint(
    "exports",
    __name__,
    description=(
        "Exports of a trained model as a TensorFlow SavedModel or a TFLite model, built "
        "once by a worker and kept among its files."
    ),
)

READY = "ready"
FORMAT = f"<any({', '.join(repr(f) for f in [*EXPORT_FILES, *EXPORT_ALIASES])}):format>"
LOCATION = location_header("The export's state (`/v1/models/{ref}/exports/{format}`).")


@bp.post("/v1/models/<ref:ref>/exports")
@bp.arguments(ExportRequestSchema)
@bp.response(200, ExportSchema, description="The export is built already.", headers=LOCATION)
@bp.alt_response(
    202, schema=ExportSchema, description="A worker builds it.", headers=LOCATION, success=True
)
@bp.problems(409, 503)
@requires(FULL)
def create_export(body: dict[str, Any], ref: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Export a trained model

    `{"format": "savedmodel" | "litert" | "onnx"}` (`tflite` is `litert`): `200` when the
    export is built already (a model's ONNX form always is, once trained), else
    `202` while a worker builds it (one build however often it is asked for); follow
    `Location` until it is `ready`, then download its `links.download`.
    """
    ctx = services()
    job_id, export_format = resolve(ref), body["format"]
    ctx.require_model(job_id)
    location = {"Location": url_for("exports.get_export", ref=job_id, format=export_format)}
    if is_built(ctx, job_id, export_format):
        return export_resource(job_id, export_format, READY), 200, location
    build = ctx.exports.request(job_id, export_format)
    return export_resource(job_id, export_format, build.status, build.error), 202, location


@bp.get(f"/v1/models/<ref:ref>/exports/{FORMAT}")
@bp.response(200, ExportSchema, description="The export's state.")
@bp.problems(409, 503)
@requires(READ)
def get_export(ref: str, format: str) -> dict[str, Any]:
    """Follow an export

    The export's state: `ready` (with its download link), `queued`, `started` or
    `failed` (with an `error`; asking again retries). 404 when it was never asked for.
    """
    ctx = services()
    job_id, format = resolve(ref), EXPORT_ALIASES.get(format, format)
    ctx.require_model(job_id)
    state = export_state(ctx, job_id, format)
    if state is None:
        raise NotFound(
            f"Job {job_id} has no {format} export; POST "
            f"{url_for('exports.create_export', ref=job_id)} to build it."
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
    return any(f.name == EXPORT_FILES[export_format] for f in ctx.artifacts.files(job_id))


def export_resource(
    job_id: str, export_format: str, status: str, error: dict[str, Any] | None = None
) -> dict[str, Any]:
    links = {"self": url_for("exports.get_export", ref=job_id, format=export_format)}
    if status == READY:
        links["download"] = download_link(job_id, EXPORT_FILES[export_format])
    resource: dict[str, Any] = {"format": export_format, "status": status, "links": links}
    if error is not None:
        resource["error"] = error
    return resource
