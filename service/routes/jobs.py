"""/v1/jobs: submit a training spec, follow its job (poll, long-poll or event stream),
cancel it, delete it, list jobs."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import orjson
from flask import Response, request, stream_with_context, url_for

from service.api import Blueprint, json_object, location_header
from service.auth import FULL, READ, requires
from service.context import services
from service.errors import Conflict, IdempotencyConflict, NotFound
from service.http import EVENT_STREAM_HEADERS, sse
from service.ml.uploads import DatasetStore
from service.schemas.jobs import (
    IdempotencyHeaders,
    JobEventSchema,
    JobListQuery,
    JobListSchema,
    JobSchema,
    JobWaitQuery,
    LastEventHeaders,
    job_document,
)
from service.schemas.spec import TrainingSpecSchema
from service.store.jobs import JobQueue, JobRecord

bp = Blueprint(
    "jobs",
    __name__,
    url_prefix="/v1/jobs",
    description="Submit training specs; follow, cancel and delete their jobs.",
)

POLL_INTERVAL_S = 0.1  # how often a waiting request or event stream re-reads the job
KEEPALIVE_S = 15
LOCATION = location_header("The job resource (`/v1/jobs/{job_id}`).")


@bp.post("")
@bp.arguments(IdempotencyHeaders, location="headers")
@bp.arguments(TrainingSpecSchema)
@bp.response(202, JobSchema, description="The spec is valid; its job is queued.", headers=LOCATION)
@bp.alt_response(
    200,
    schema=JobSchema,
    description=(
        "A retry: this `Idempotency-Key` was used with the same body; the job the first "
        "request created, as it is now. No new job is queued."
    ),
    headers=LOCATION,
    success=True,
)
@bp.problems(409)
@requires(FULL)
def submit_job(headers: dict[str, Any], spec: dict[str, Any]) -> Any:
    """Submit a training spec

    Validates the spec (form, names, limits, defaults) and checks it against its data
    and Keras (input shape vs the data's rows, output shape vs the loss and labels, at
    most MAX_PARAMS parameters), then queues a training job on the spec's `queue`. The
    worker trains exactly the normalized spec: every default is filled in here.

    Retries: with an `Idempotency-Key` header, the first request with a key creates the
    job, and a later one with the same key and the same JSON body (in any key order or
    spacing) answers `200` with that job instead of queueing another; the same key with
    another (valid) body is a 409 (`/problems/idempotency-key-reused`).
    """
    from service.ml.preflight import check_spec  # TensorFlow: imported on first use

    ctx = services()
    key = headers.get("key")
    idempotency = (key, body_digest(json_object(request))) if key is not None else None
    if idempotency is not None and (claimed := ctx.jobs.claimed(key)) is not None:
        replay = _replay(claimed, idempotency[1])
        if replay is not None:
            return replay
    uploaded = DatasetStore(ctx.artifacts).for_data(spec["data"])  # None unless it names one
    check_spec(spec, ctx.settings, uploaded)
    ctx.check_init_from(spec)
    record, created = ctx.jobs.submit(spec, idempotency=idempotency)
    if not created:  # another request with this key won the race
        return _replay((record.id, ctx.jobs.claimed(key)[1]), idempotency[1])  # type: ignore[index]
    return job_resource(record), 202, _location(record.id)


def body_digest(body: dict[str, Any]) -> str:
    """The same JSON in any key order or spacing has the same digest."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _replay(claimed: tuple[str, str], digest: str) -> tuple[dict[str, Any], int, dict] | None:
    job_id, first_digest = claimed
    if first_digest != digest:
        raise IdempotencyConflict(
            "This Idempotency-Key was used with another request body "
            f"(for job {job_id}). Use a new key for a new job."
        )
    record = services().jobs.get(job_id)
    if record is None:  # the job has expired or was deleted: the key is free again
        return None
    return job_resource(record), 200, _location(job_id)


def _location(job_id: str) -> dict[str, str]:
    return {"Location": url_for("jobs.get_job", job_id=job_id)}


@bp.get("")
@bp.arguments(JobListQuery, location="query")
@bp.response(200, JobListSchema, description="The jobs, newest first.")
@requires(READ)
def list_jobs(query: dict[str, Any]) -> dict[str, Any]:
    """List jobs

    Jobs newest first, optionally only those with one status, or only one sweep's
    trials. Job records expire after JOB_TTL (30 days by default).
    """
    records = services().jobs.list(
        status=query.get("status"), limit=query["limit"], sweep_id=query.get("sweep_id")
    )
    return {"jobs": [job_resource(r) for r in records]}


@bp.get("/<job_id:job_id>")
@bp.arguments(JobWaitQuery, location="query")
@bp.response(200, JobSchema, description="The job (after a change, with `wait`).")
@requires(READ)
def get_job(query: dict[str, Any], job_id: str) -> dict[str, Any]:
    """Get a job

    The job's status, progress, history and, once finished, its test metrics.

    Long-polling: with `wait=N` (seconds, 0 to 60), the answer waits until the job's
    `status` or `progress.epoch` changes, or N seconds have passed, and then gives the
    job as it is; a job that has already ended is answered at once.
    """
    jobs = services().jobs
    record = _found(jobs.get(job_id), job_id)
    if query["wait"] and not record.ended:
        record = _next_change(jobs, record, deadline=time.monotonic() + query["wait"])
    return job_resource(record)


@bp.get("/<job_id:job_id>/events")
@bp.arguments(LastEventHeaders, location="headers")
@bp.response(
    200,
    JobEventSchema,
    content_type="text/event-stream",
    description="The event stream; it closes after the `end` event.",
)
@requires(READ)
def job_events(headers: dict[str, Any], job_id: str) -> Response:
    """Stream a job's progress (server-sent events)

    A `text/event-stream` that follows the job until it ends: one `epoch` event per
    finished epoch (those already finished first), its `id` the epoch's number, then one
    `end` event with the job resource, and the stream closes. A `: keepalive` comment is
    sent every 15 seconds or so while nothing happens. To resume after a dropped
    connection, send the last event `id` as `Last-Event-ID` (EventSource does).
    """
    jobs = services().jobs
    record = _found(jobs.get(job_id), job_id)
    sent = int(headers["last"]) if headers["last"].isdigit() else 0
    # stream_with_context keeps the request context (url_for) while the stream runs.
    return Response(
        stream_with_context(_events(jobs, record, sent)),
        mimetype="text/event-stream",
        headers=EVENT_STREAM_HEADERS,
    )


@bp.post("/<job_id:job_id>/cancel")
@bp.response(200, JobSchema, description="The job is canceled.")
@bp.alt_response(
    202,
    schema=JobSchema,
    description="The job is running; its fit stops after the current batch.",
    success=True,
)
@bp.problems(409)
@requires(FULL)
def cancel_job(job_id: str) -> tuple[dict[str, Any], int]:
    """Cancel a job

    A queued job is canceled at once and never starts (`200`). A running fit is asked to
    stop: it checks between batches, so within about a second the job ends `canceled`,
    keeping no model; meanwhile the answer is `202` with the job as it is. A job that has
    already finished or failed is a 409 (`/problems/conflict`, with `job_status`).
    """
    record = _found(services().jobs.cancel(job_id), job_id)
    if record.status in ("finished", "failed"):
        raise Conflict(
            f"Job {job_id} has already {record.status}; only queued or running jobs can "
            "be canceled.",
            job_status=record.status,
        )
    return job_resource(record), 200 if record.status == "canceled" else 202


@bp.delete("/<job_id:job_id>")
@bp.response(204, description="The job and its artifacts are deleted.")
@bp.problems(409)
@requires(FULL)
def delete_job(job_id: str) -> tuple[str, int]:
    """Delete a job

    Removes an ended job: its record, and its model and documents from the artifact
    store; every API process stops serving its model within about a second. A job still
    queued or started is a 409 (cancel it first), and so is one an alias points at.
    """
    ctx = services()
    record = _found(ctx.jobs.get(job_id), job_id)
    if not record.ended:
        raise Conflict(
            f"Job {job_id} is {record.status}; cancel it first.", job_status=record.status
        )
    starting = ctx.jobs.warm_starts_in_use().get(job_id)
    if starting:
        raise Conflict(
            f"Jobs start from job {job_id}'s model (init_from): {', '.join(starting)}. Wait "
            "for them to end, or cancel them, first."
        )
    aliases = ctx.aliases.pointing_to(job_id)
    if aliases:
        raise Conflict(
            f"Aliases point at job {job_id}: {', '.join(aliases)}. Move or delete them first."
        )
    ctx.artifacts.delete(job_id)
    ctx.jobs.delete(job_id)
    ctx.models.discard(job_id)
    return "", 204


def _found(record: JobRecord | None, job_id: str) -> JobRecord:
    if record is None:
        raise NotFound(f"No job {job_id}.")
    return record


def _next_change(jobs: JobQueue, record: JobRecord, deadline: float) -> JobRecord:
    """Poll Redis until the job's status or epoch differs from `record`'s. Polling (a
    few cheap reads per second) rather than pub/sub: nothing to miss between reading
    the job and subscribing, and nothing to clean up when a client goes away."""
    seen = (record.status, record.epoch)
    while time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL_S)
        current = jobs.get(record.id)
        if current is None or (current.status, current.epoch) != seen:
            return current or record
    return record


def _events(jobs: JobQueue, record: JobRecord, sent: int) -> Iterator[str]:
    last_beat = time.monotonic()
    while True:
        for epoch in range(sent + 1, record.epoch + 1):
            metrics = {name: values[epoch - 1] for name, values in record.history.items()}
            yield sse("epoch", {"epoch": epoch, "epochs": record.epochs, **metrics}, epoch)
            sent = epoch
        if record.ended:
            yield sse("end", JobSchema().dump(job_resource(record)))
            return
        if time.monotonic() - last_beat > KEEPALIVE_S:  # keeps proxies from closing it
            yield ": keepalive\n\n"
            last_beat = time.monotonic()
        time.sleep(POLL_INTERVAL_S)
        record = jobs.get(record.id) or record


def job_resource(record: JobRecord) -> dict[str, Any]:
    """The public JSON of a job (JobSchema describes it): its document and its links."""
    return {
        **job_document(record),
        "links": {
            "self": url_for("jobs.get_job", job_id=record.id),
            "events": url_for("jobs.job_events", job_id=record.id),
            "cancel": url_for("jobs.cancel_job", job_id=record.id),
            "predict": url_for("models.predict", ref=record.id),
            "summary": url_for("models.summary", ref=record.id),
        },
    }
