"""/v1/jobs: submit a training spec, follow its job (poll, long-poll or event stream),
cancel it, delete it, list jobs."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
from flask import Blueprint, Response, request, stream_with_context, url_for

from service.auth import FULL, READ, requires
from service.context import services
from service.errors import Conflict, IdempotencyConflict, InvalidRequest, NotFound
from service.http import checked_job_id, json_body
from service.jobs import STATUSES, JobQueue, JobRecord
from service.limits import check_limits, with_server_defaults
from service.ml.uploads import DatasetStore
from service.schemas import load_spec

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")

MAX_LIST = 100
MAX_WAIT_S = 60  # longest long-poll; under gunicorn's timeout and most proxies'
POLL_INTERVAL_S = 0.1  # how often a waiting request or event stream re-reads the job
KEEPALIVE_S = 15
MAX_KEY_LENGTH = 255


@bp.post("")
@requires(FULL)
def submit_job() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Validate the spec, check it against its data and Keras, then queue it.

    With an Idempotency-Key, a retry with the same body answers 200 with the job the
    first request created; the same key with another body is a 409.
    """
    from service.ml.preflight import check_spec  # TensorFlow: imported on first use

    ctx = services()
    body = json_body()
    key = idempotency_key()
    digest = body_digest(body)
    if key is not None and (claimed := ctx.jobs.claimed(key)) is not None:
        replay = _replay(claimed, digest)
        if replay is not None:
            return replay
    spec = load_spec(body)
    uploaded = DatasetStore(ctx.store).for_data(spec["data"])  # None unless it names one
    check_limits(spec, ctx.settings, len(uploaded) if uploaded is not None else 0)
    check_spec(spec, ctx.settings.max_params, uploaded)
    record, created = ctx.jobs.submit(
        with_server_defaults(spec, ctx.settings),
        idempotency=(key, digest) if key is not None else None,
    )
    if not created:  # another request with this key won the race
        return _replay((record.id, ctx.jobs.claimed(key)[1]), digest)  # type: ignore[index]
    return job_resource(record), 202, _location(record.id)


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidRequest({"Idempotency-Key": [f"Expected 1 to {MAX_KEY_LENGTH} characters."]})
    return key


def body_digest(body: dict[str, Any]) -> str:
    """The same JSON in any key order or spacing has the same digest."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(
    claimed: tuple[str, str], digest: str
) -> tuple[dict[str, Any], int, dict[str, str]] | None:
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
    """The job; with `?wait=N`, answers as soon as its status or epoch changes (or after
    N seconds, whichever comes first), so a client can follow it without hammering."""
    jobs = services().jobs
    record = _found(jobs.get(checked_job_id(job_id)), job_id)
    wait = _wait_seconds()
    if wait and not record.ended:
        record = _next_change(jobs, record, deadline=time.monotonic() + wait)
    return job_resource(record)


@bp.get("/<job_id>/events")
@requires(READ)
def job_events(job_id: str) -> Response:
    """Server-sent events: one `epoch` event per finished epoch (with its metrics; the
    epochs already done first), then one `end` event with the job, then the stream
    closes. `Last-Event-ID` (the last epoch seen) resumes after it."""
    jobs = services().jobs
    record = _found(jobs.get(checked_job_id(job_id)), job_id)
    last_seen = request.headers.get("Last-Event-ID", "0")
    sent = int(last_seen) if last_seen.isdigit() else 0
    # stream_with_context keeps the request context (url_for) while the stream runs.
    return Response(
        stream_with_context(_events(jobs, record, sent)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@bp.post("/<job_id>/cancel")
@requires(FULL)
def cancel_job(job_id: str) -> tuple[dict[str, Any], int]:
    """Cancel: 200 once canceled (a queued job, at once), 202 while a running fit
    stops (after its current batch), 409 for a job that already finished or failed."""
    record = _found(services().jobs.cancel(checked_job_id(job_id)), job_id)
    if record.status in ("finished", "failed"):
        raise Conflict(
            f"Job {job_id} has already {record.status}; only queued or running jobs can "
            "be canceled.",
            job_status=record.status,
        )
    return job_resource(record), 200 if record.status == "canceled" else 202


@bp.delete("/<job_id>")
@requires(FULL)
def delete_job(job_id: str) -> tuple[str, int]:
    """Remove an ended job: its record and its artifacts (every API process stops
    serving its model within a second). 409 while it is queued or running, or while an
    alias points at it."""
    ctx = services()
    record = _found(ctx.jobs.get(checked_job_id(job_id)), job_id)
    if not record.ended:
        raise Conflict(
            f"Job {job_id} is {record.status}; cancel it first.", job_status=record.status
        )
    aliases = ctx.aliases.pointing_to(job_id)
    if aliases:
        raise Conflict(
            f"Aliases point at job {job_id}: {', '.join(aliases)}. Move or delete them first."
        )
    ctx.store.delete(job_id)
    ctx.jobs.delete(job_id)
    ctx.models.discard(job_id)
    return "", 204


def _found(record: JobRecord | None, job_id: str) -> JobRecord:
    if record is None:
        raise NotFound(f"No job {job_id}.")
    return record


def _wait_seconds() -> float:
    raw = request.args.get("wait")
    if raw is None:
        return 0.0
    if not raw.isdigit() or int(raw) > MAX_WAIT_S:
        raise InvalidRequest(
            {"wait": [f"Expected whole seconds from 0 to {MAX_WAIT_S}. Received: {raw!r}."]}
        )
    return float(raw)


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
            yield _sse("epoch", {"epoch": epoch, "epochs": record.epochs, **metrics}, epoch)
            sent = epoch
        if record.ended:
            yield _sse("end", job_resource(record))
            return
        if time.monotonic() - last_beat > KEEPALIVE_S:  # keeps proxies from closing it
            yield ": keepalive\n\n"
            last_beat = time.monotonic()
        time.sleep(POLL_INTERVAL_S)
        record = jobs.get(record.id) or record


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {orjson.dumps(data).decode()}")
    return "\n".join(lines) + "\n\n"


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
        "diagnosis": record.diagnosis,  # what the curves say, once training has ended
        "queue": record.queue,
        "links": {
            "self": url_for("jobs.get_job", job_id=record.id),
            "events": url_for("jobs.job_events", job_id=record.id),
            "cancel": url_for("jobs.cancel_job", job_id=record.id),
            "predict": url_for("models.predict", job_id=record.id),
            "summary": url_for("models.summary", job_id=record.id),
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
