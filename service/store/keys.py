"""Every Redis key the service writes, named once under one prefix.

RQ names its own keys (`rq:job:<id>`, `rq:queue:<name>`, its registries); these are
ours, beside them. Change a key here and nowhere else.
"""

from __future__ import annotations

import hashlib

PREFIX = "keras-service"


def key(*parts: str) -> str:
    """`keras-service:part:part...`"""
    return ":".join((PREFIX, *parts))


# Sorted set of job IDs by submission time, for listing.
JOBS = key("jobs")
# Hash: alias name -> JSON setting {targets, shadow, updated_at} (first: {job_id, updated_at}).
ALIASES = key("aliases")
# Hash: the training-duration histogram the workers fill (service.store.durations).
TRAINING_SECONDS = key("metrics", "training-seconds")


def cancel(job_id: str) -> str:
    """Set when a client cancels a job; apart from RQ's job hash, so the API can set it
    while the worker rewrites the job's meta."""
    return key("cancel", job_id)


def idempotency(client_key: str) -> str:
    """The job an Idempotency-Key created. Client keys are text of any length: hashed,
    so Redis keys stay short and uniform."""
    return key("idempotency", hashlib.sha256(client_key.encode()).hexdigest())


def alias_history(name: str) -> str:
    """List of an alias's targets, newest first."""
    return key("alias-history", name)


def export_claim(build_id: str) -> str:
    """Held while a request checks for an export build and queues one."""
    return key("export-claim", build_id)


# Sorted set of sweep IDs by submission time, for listing.
SWEEPS = key("sweeps")


def sweep(sweep_id: str) -> str:
    """Hash: a sweep's definition and counters (service.store.sweeps)."""
    return key("sweep", sweep_id)


def sweep_active(sweep_id: str) -> str:
    """Set: the job IDs of a sweep's queued or running trials, and claims of trials
    being launched."""
    return key("sweep-active", sweep_id)


def sweep_trials(sweep_id: str) -> str:
    """Hash: trial number -> the trial's JSON (parameters, job, outcome)."""
    return key("sweep-trials", sweep_id)


def sweep_settled(sweep_id: str) -> str:
    """Set: the job IDs of a sweep's trials that someone has settled (or is settling)."""
    return key("sweep-settled", sweep_id)


def sweep_ended(sweep_id: str) -> str:
    """List: trial numbers in the order the trials ended (the sweep's events)."""
    return key("sweep-ended", sweep_id)


def study(sweep_id: str) -> str:
    """Prefix of the keys of a sweep's Optuna study (its journal: one log entry a key)."""
    return key("study", sweep_id)


# Sorted set of batch prediction IDs by submission time (service.store.batches).
BATCHES = key("batch-predictions")


def rollout_stats(alias: str, role: str, job_id: str) -> str:
    """Hash: what one model did with an alias's traffic, as a target or its shadow
    (service.rollouts.recorder): counters by field."""
    return key("rollout", alias, role, job_id)


def rollout_members(alias: str) -> str:
    """Set: the `role:job_id` of every model that has stats under an alias."""
    return key("rollout-members", alias)


def prediction(request_id: str) -> str:
    """Hash: what a prediction through an alias answered, kept FEEDBACK_TTL for the
    outcome a client feeds back (service.store.rollouts)."""
    return key("prediction", request_id)
