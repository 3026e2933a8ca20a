"""/v1/jobs/<id>/history.svg and .png: a job's training curves as an image, drawn from
its history so far (while it runs) or in full (once it has ended)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from flask import Response, current_app, request

from service.api import Blueprint
from service.auth import READ, requires
from service.context import services
from service.curves import FORMATS, Mark, render
from service.errors import NotFound
from service.store.jobs import JobRecord

bp = Blueprint(
    "curves",
    __name__,
    url_prefix="/v1/jobs",
    description="A job's training curves as an image, drawn from its history so far.",
)

BEST, STOPPED, ALARM = "#2ca02c", "#7f7f7f", "#d62728"
ENDED_MAX_AGE_S = 86_400  # an ended job's chart never changes; its ID is never reused
# The chart is an image: nothing in it may run or load anything if opened on its own.
_SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


_CHART = (
    "One panel per quantity (`loss` first, then each metric), each with its training line "
    "and, with validation data, its validation line; the epochs early stopping kept and "
    "stopped at, and where the diagnosis saw trouble begin, are marked; the diagnosis is "
    "printed under it. While the job runs it draws the epochs so far (`Cache-Control: "
    "no-cache`, with an `ETag` that changes with each epoch: `If-None-Match` gives a 304 "
    "until one lands); once the job has ended it never changes. A job with no finished "
    "epoch gets a chart that says so, not an error."
)
_NOT_MODIFIED = "`If-None-Match` names the chart as it would be drawn now."


@bp.get("/<job_id:job_id>/history.svg")
@bp.response(200, {"type": "string"}, content_type="image/svg+xml", description="The chart.")
@bp.alt_response(304, description=_NOT_MODIFIED, success=True)
@bp.doc(description=_CHART)
@requires(READ)
def history_svg(job_id: str) -> Response:
    """Draw a job's training curves (SVG)"""
    return _chart(job_id, "svg")


@bp.get("/<job_id:job_id>/history.png")
@bp.response(
    200, {"type": "string", "format": "binary"}, content_type="image/png", description="The chart."
)
@bp.alt_response(304, description=_NOT_MODIFIED, success=True)
@bp.doc(description=_CHART)
@requires(READ)
def history_png(job_id: str) -> Response:
    """Draw a job's training curves (PNG)"""
    return _chart(job_id, "png")


def _chart(job_id: str, fmt: str) -> Response:
    record = services().jobs.get(job_id)
    if record is None:
        raise NotFound(f"No job {job_id}.")
    title, note = _title(record), _note(record)
    marks = _marks(record)
    # Weak: the tag names what is drawn (the same picture), not the exact bytes, and is
    # known before drawing, so a revalidation that matches costs no rendering.
    digest = hashlib.sha256(orjson.dumps([fmt, record.history, title, note, marks]))
    tag = digest.hexdigest()[:32]
    if request.if_none_match.contains_weak(tag):
        response = current_app.response_class(status=304)
        response.headers.remove("Content-Type")
    else:
        image = render(record.history, fmt, title, note, marks)
        response = current_app.response_class(image, mimetype=FORMATS[fmt])
        response.headers.set("Content-Disposition", "inline", filename=f"history-{job_id}.{fmt}")
        if fmt == "svg":
            response.headers["Content-Security-Policy"] = _SVG_POLICY
    response.set_etag(tag, weak=True)
    if record.ended:
        response.cache_control.private = True
        response.cache_control.max_age = ENDED_MAX_AGE_S
    else:  # a new epoch may land any moment: revalidate (a 304 until it does)
        response.cache_control.no_cache = True
    return response


def _title(record: JobRecord) -> str:
    name = record.name or f"job {record.id[:8]}"
    return f"{name} · {record.status} · {record.epoch} of {record.epochs} epochs"


def _note(record: JobRecord) -> str | None:
    if record.diagnosis is None:
        return None
    return f"{record.diagnosis['kind'].replace('_', ' ')}: {record.diagnosis['hint']}"


def _marks(record: JobRecord) -> list[Mark]:
    """The epochs worth a line: the one early stopping kept, where it stopped, and where
    the diagnosis saw trouble begin."""
    result: dict[str, Any] = record.result or {}
    diagnosis = record.diagnosis or {}
    best, run = result.get("best_epoch"), result.get("epochs_run")
    marks = []
    if best:
        marks.append(Mark(best, f"best epoch {best} (kept)", BEST))
    if run and run != best and (best or run < record.epochs):
        marks.append(Mark(run, f"stopped at {run}", STOPPED, ":"))
    if diagnosis.get("kind") == "overfitting" and diagnosis["best_epoch"] != best:
        epoch = diagnosis["best_epoch"]
        marks.append(Mark(epoch, f"lowest val_loss (epoch {epoch})", ALARM))
    if diagnosis.get("kind") == "diverged":
        epoch = diagnosis["epoch"]
        marks.append(Mark(epoch, f"diverged (epoch {epoch})", ALARM, ":"))
    return marks
