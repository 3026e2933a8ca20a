"""/v1/sweeps: hyperparameter sweeps over a training spec (Optuna), each trial an
ordinary training job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Response, stream_with_context, url_for

from service.api import Blueprint, location_header
from service.auth import FULL, READ, requires
from service.context import Services, services
from service.errors import Conflict, InvalidSpec, InvalidSweep, NotFound
from service.http import EVENT_STREAM_HEADERS, sse
from service.ml.uploads import DatasetStore
from service.schemas.jobs import LastEventHeaders, iso
from service.schemas.sweeps import (
    TRIAL_STATUSES,
    SweepDeleteQuery,
    SweepEventSchema,
    SweepListQuery,
    SweepListSchema,
    SweepRequestSchema,
    SweepSchema,
)
from service.store.sweeps import SweepState
from service.sweeps.ranking import best_trial, leaderboard

bp = Blueprint(
    "sweeps",
    __name__,
    url_prefix="/v1/sweeps",
    description=(
        "Hyperparameter sweeps: a training spec, a search space over it and an objective; "
        "Optuna draws each trial's parameters, every trial is a training job."
    ),
)

POLL_INTERVAL_S = 0.5  # how often an event stream re-reads the sweep
KEEPALIVE_S = 15
LOCATION = location_header("The sweep resource (`/v1/sweeps/{sweep_id}`).")


@bp.post("")
@bp.arguments(SweepRequestSchema)
@bp.response(
    202,
    SweepSchema,
    description="The sweep is valid; its first trials are queued.",
    headers=LOCATION,
)
@requires(FULL)
def submit_sweep(definition: dict[str, Any]) -> Any:
    """Start a sweep

    Checks the spec as `POST /v1/jobs` does, each searched path against the spec, and
    every corner of the space (each range's ends, each choice) through a job's checks
    (its limits, then Keras: parameters, activation memory, the data), then creates the
    sweep's Optuna study and queues its first `parallel` trials. Each trial is a
    training job of the spec with the trial's parameters set, on the spec's queue; as
    each ends, the next is queued, until `trials` have run or `max_seconds` is up.
    """
    from service.ml.preflight import check_spec  # TensorFlow: imported on first use
    from service.sweeps.space import check_corners, dimensions

    ctx = services()
    spec = definition["spec"]
    uploaded = DatasetStore(ctx.artifacts).for_data(spec["data"])
    try:
        check_spec(spec, ctx.settings, uploaded)
        ctx.check_init_from(spec)
    except InvalidSpec as exc:
        raise InvalidSweep({f"spec.{k}": v for k, v in (exc.errors or {}).items()}) from None
    space, _ = dimensions(definition["search"], spec)
    check_corners(spec, space, ctx.settings, uploaded)
    sweep_id = ctx.sweep_runner().start(definition)
    return (
        sweep_resource(ctx, _found(ctx.sweeps.get(sweep_id), sweep_id)),
        202,
        {"Location": url_for("sweeps.get_sweep", sweep_id=sweep_id)},
    )


@bp.get("")
@bp.arguments(SweepListQuery, location="query")
@bp.response(200, SweepListSchema, description="The sweeps, newest first.")
@requires(READ)
def list_sweeps(query: dict[str, Any]) -> dict[str, Any]:
    """List sweeps"""
    ctx = services()
    found = (ctx.sweeps.get(i) for i in ctx.sweeps.ids(query["limit"]))
    return {"sweeps": [sweep_resource(ctx, s) for s in found if s is not None]}


@bp.get("/<sweep_id:sweep_id>")
@bp.response(200, SweepSchema, description="The sweep.")
@requires(READ)
def get_sweep(sweep_id: str) -> dict[str, Any]:
    """Get a sweep

    Its status, trial counts, best trial, leaderboard and (after 4 finished trials)
    each parameter's importance. Reading a sweep also settles trials whose worker was
    lost, so the sweep goes on.
    """
    ctx = services()
    sweep = _found(ctx.sweep_runner().reconcile(sweep_id), sweep_id)
    return sweep_resource(ctx, sweep)


@bp.get("/<sweep_id:sweep_id>/events")
@bp.arguments(LastEventHeaders, location="headers")
@bp.response(
    200,
    SweepEventSchema,
    content_type="text/event-stream",
    description="The event stream; it closes after the `end` event.",
)
@requires(READ)
def sweep_events(headers: dict[str, Any], sweep_id: str) -> Response:
    """Stream a sweep's trials (server-sent events)

    One `trial` event per ended trial, in the order they ended (those already ended
    first), its `id` its place in that order; then an `end` event with the sweep once
    it has ended, and the stream closes. Resume with `Last-Event-ID`.
    """
    ctx = services()
    _found(ctx.sweeps.get(sweep_id), sweep_id)
    sent = int(headers["last"]) if headers["last"].isdigit() else 0
    return Response(
        stream_with_context(_events(ctx, sweep_id, sent)),
        mimetype="text/event-stream",
        headers=EVENT_STREAM_HEADERS,
    )


@bp.post("/<sweep_id:sweep_id>/cancel")
@bp.response(200, SweepSchema, description="The sweep is canceled; running trials are stopping.")
@bp.problems(409)
@requires(FULL)
def cancel_sweep(sweep_id: str) -> dict[str, Any]:
    """Cancel a sweep

    No trial starts from now on; queued trials are canceled at once and running ones
    stop after their current batch (within about a second), ending `canceled`. A sweep
    that has already ended is a 409.
    """
    ctx = services()
    sweep = _found(ctx.sweeps.get(sweep_id), sweep_id)
    if sweep.ended:
        raise Conflict(f"Sweep {sweep_id} has already ended ({sweep.state}).")
    return sweep_resource(ctx, _found(ctx.sweep_runner().cancel(sweep_id), sweep_id))


@bp.delete("/<sweep_id:sweep_id>")
@bp.arguments(SweepDeleteQuery, location="query")
@bp.response(204, description="The sweep is deleted (with `trials=true`, its trials' jobs too).")
@bp.problems(409)
@requires(FULL)
def delete_sweep(query: dict[str, Any], sweep_id: str) -> tuple[str, int]:
    """Delete a sweep

    Removes an ended sweep and its study; with `trials=true`, also its trials' jobs and
    their models (refused, 409, while an alias points at one). A sweep still running is
    a 409: cancel it first.
    """
    ctx = services()
    sweep = _found(ctx.sweeps.get(sweep_id), sweep_id)
    if not sweep.ended:
        raise Conflict(f"Sweep {sweep_id} is {sweep.state}; cancel it first.")
    job_ids = [t["job_id"] for t in ctx.sweeps.trials(sweep_id) if t["job_id"]]
    if query["trials"]:
        pointed = {j: ctx.aliases.pointing_to(j) for j in job_ids}
        pointed = {j: names for j, names in pointed.items() if names}
        if pointed:
            names = sorted(n for names in pointed.values() for n in names)
            raise Conflict(
                f"Aliases point at trials of this sweep: {', '.join(names)}. Move or "
                "delete them first, or delete the sweep without its trials."
            )
        for job_id in job_ids:
            ctx.artifacts.delete(job_id)
            ctx.jobs.delete(job_id)
            ctx.models.discard(job_id)
    ctx.sweeps.delete(sweep_id)
    return "", 204


def _found(sweep: SweepState | None, sweep_id: str) -> SweepState:
    if sweep is None:
        raise NotFound(f"No sweep {sweep_id}.")
    return sweep


def _events(ctx: Services, sweep_id: str, sent: int) -> Iterator[str]:
    last_beat = time.monotonic()
    runner = ctx.sweep_runner()
    while True:
        sweep = runner.reconcile(sweep_id)
        ended = ctx.sweeps.ended_trials(sweep_id, sent)
        if ended:
            trials = {t["number"]: t for t in ctx.sweeps.trials(sweep_id)}
            for number in ended:
                sent += 1
                yield sse("trial", trial_resource(trials[number]), sent)
        if sweep is None or sweep.ended:
            if sweep is not None and not ctx.sweeps.ended_trials(sweep_id, sent):
                yield sse("end", SweepSchema().dump(sweep_resource(ctx, sweep)))
                return
            if sweep is None:
                return
            continue  # trials ended meanwhile: send them first
        if time.monotonic() - last_beat > KEEPALIVE_S:
            yield ": keepalive\n\n"
            last_beat = time.monotonic()
        time.sleep(POLL_INTERVAL_S)


def _iso(moment: float | None) -> str | None:
    """A moment stored as Unix seconds, as the API writes moments."""
    return iso(datetime.fromtimestamp(moment, UTC)) if moment is not None else None


def trial_resource(trial: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": trial["number"],
        "job_id": trial["job_id"],
        "status": trial["status"],
        "params": trial["params"],
        "objective": trial.get("objective"),
        "epochs": trial.get("epochs", 0),
        "seconds": trial.get("seconds"),
        "metrics": trial.get("metrics"),
        "error": trial.get("error"),
    }


def sweep_resource(ctx: Services, sweep: SweepState) -> dict[str, Any]:
    """The public JSON of a sweep (SweepSchema describes it)."""
    definition = sweep.definition
    trials = [trial_resource(t) for t in ctx.sweeps.trials(sweep.id)]
    for trial in trials:  # queued or running: as its job is now
        if trial["job_id"] in sweep.active:
            record = ctx.jobs.get(trial["job_id"])
            if record is not None and not record.ended:
                trial.update(status=record.status, epochs=record.epoch)
    counts = dict.fromkeys(TRIAL_STATUSES, 0)
    for trial in trials:
        counts[trial["status"]] = counts.get(trial["status"], 0) + 1
    status = sweep.state
    if status == "running" and counts["queued"] == len(trials):
        status = "queued"
    direction = definition["objective"]["direction"]
    return {
        "id": sweep.id,
        "name": definition["name"],
        "status": status,
        "created_at": _iso(sweep.created_at),
        "ended_at": _iso(sweep.ended_at),
        "objective": definition["objective"],
        "search": definition["search"],
        "sampler": definition["sampler"],
        "pruner": definition["pruner"],
        "trials": definition["trials"],
        "parallel": definition["parallel"],
        "counts": counts,
        "best": best_trial(trials, direction),
        "leaderboard": leaderboard(trials, direction),
        "importance": sweep.importance,
        "promotion": (sweep.result or {}).get("promotion"),
        "links": {
            "self": url_for("sweeps.get_sweep", sweep_id=sweep.id),
            "events": url_for("sweeps.sweep_events", sweep_id=sweep.id),
            "cancel": url_for("sweeps.cancel_sweep", sweep_id=sweep.id),
            "jobs": url_for("jobs.list_jobs", sweep_id=sweep.id),
        },
    }
