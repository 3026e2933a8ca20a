"""/v1/models/<ref>/artifacts: the files of a finished job, to take the model elsewhere
(the .keras model, its JSON documents, and the exports built so far)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, current_app, request, url_for
from werkzeug.wsgi import wrap_file

from service.api import Blueprint
from service.auth import READ, requires
from service.context import Services, services
from service.errors import NotFound
from service.http import resolve
from service.ml.artifacts import StoredFile
from service.schemas.artifacts import ArtifactListSchema

bp = Blueprint(
    "artifacts",
    __name__,
    description=(
        "A trained model's files (the Keras model, its spec, history, metrics and summary, "
        "and the exports built so far) to download."
    ),
)

# By how a name ends. No Content-Encoding for the tar.gz: clients would unpack it.
MEDIA_TYPES = {
    ".json": "application/json",
    ".tar.gz": "application/gzip",
    ".keras": "application/octet-stream",  # a zip archive, but only Keras should open it
    ".tflite": "application/octet-stream",
    ".onnx": "application/octet-stream",
}
BLOCK = 256 * 1024  # bytes read from the store at a time while a download streams


@bp.get("/v1/models/<ref:ref>/artifacts")
@bp.response(200, ArtifactListSchema, description="The files, in name order.")
@bp.problems(409, 503)
@requires(READ)
def list_artifacts(ref: str) -> dict[str, Any]:
    """List a trained model's files

    The finished job's files with their sizes and sha256, each downloadable.
    """
    ctx = services()
    job_id = resolve(ref)
    ctx.require_model(job_id)
    with still_stored(job_id):
        artifacts = [artifact_resource(ctx, job_id, f) for f in ctx.artifacts.files(job_id)]
    return {"job_id": job_id, "artifacts": artifacts}


@bp.get("/v1/models/<ref:ref>/artifacts/<name>")
@bp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/octet-stream",
    description="The file (`Content-Disposition: attachment`), with its sha256 as `ETag`.",
)
@bp.alt_response(304, description="`If-None-Match` names this file's sha256.", success=True)
@bp.problems(409, 503)
@requires(READ)
def download_artifact(ref: str, name: str) -> Response:
    """Download a trained model's file

    The file, streamed from the store, with its sha256 as `ETag` (`If-None-Match` gives a
    304). The name is looked up in the job's listing, never used as a path.
    """
    ctx = services()
    job_id = resolve(ref)
    ctx.require_model(job_id)
    found = {f.name: f for f in ctx.artifacts.files(job_id)}.get(name)
    if found is None:
        raise NotFound(
            f"Job {job_id} has no artifact {name!r}; "
            f"{url_for('artifacts.list_artifacts', ref=job_id)} lists those it has."
        )
    with still_stored(job_id):
        digest = sha256(ctx, job_id, found)
        if request.if_none_match.contains_weak(digest):
            return revalidated(current_app.response_class(status=304), digest)
        opened = ctx.artifacts.open(job_id, name)
    response = current_app.response_class(
        wrap_file(request.environ, opened, BLOCK),
        mimetype=media_type(name),
        direct_passthrough=True,
    )
    response.content_length = found.size
    response.headers.set("Content-Disposition", "attachment", filename=name)
    return revalidated(response, digest)


def revalidated(response: Response, digest: str) -> Response:
    """`response` with the file's digest as its ETag, to be checked again every time:
    behind an alias the same URL can name another model later."""
    if response.status_code == 304:
        response.headers.remove("Content-Type")  # no body to describe
    response.set_etag(digest)
    response.cache_control.no_cache = True
    return response


@contextmanager
def still_stored(job_id: str) -> Iterator[None]:
    """A file listed a moment ago and gone now: its job was deleted meanwhile."""
    try:
        yield
    except FileNotFoundError:
        raise NotFound(f"The files of job {job_id} were removed.") from None


def artifact_resource(ctx: Services, job_id: str, file: StoredFile) -> dict[str, Any]:
    return {
        "name": file.name,
        "bytes": file.size,
        "sha256": sha256(ctx, job_id, file),
        "links": {"download": download_link(job_id, file.name)},
    }


def download_link(job_id: str, name: str) -> str:
    return url_for("artifacts.download_artifact", ref=job_id, name=name)


def sha256(ctx: Services, job_id: str, file: StoredFile) -> str:
    """The file's digest, read from the store only the first time this process sees this
    version of it."""
    key = (ctx.artifacts.root, job_id, file.name, file.size, file.version)
    return ctx.digests.sha256(key, lambda: ctx.artifacts.open(job_id, file.name))


def media_type(name: str) -> str:
    suffix = next((s for s in MEDIA_TYPES if name.endswith(s)), None)
    return MEDIA_TYPES[suffix] if suffix else "application/octet-stream"
