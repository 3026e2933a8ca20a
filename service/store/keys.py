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
# Hash: alias name -> JSON {job_id, updated_at}.
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
