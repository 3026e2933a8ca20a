"""Outcomes fed back for earlier predictions: scored against what the answering model
(and the shadow, when it saw the request) predicted, once per prediction."""

from __future__ import annotations

import time
from typing import Any

import orjson

from service.errors import Conflict, InvalidInput, NotFound
from service.rollouts import outcomes
from service.rollouts.outcomes import Outcome
from service.rollouts.payloads import PayloadLog
from service.rollouts.shadow import SHADOW
from service.rollouts.traffic import TARGET
from service.store.rollouts import RolloutStore


def record(
    store: RolloutStore, payloads: PayloadLog, request_id: str, labels: list[Any], path: str
) -> dict[str, str]:
    """Record the true outcomes of prediction `request_id` (one label per row); returns
    the alias and job that answered it. NotFound for a prediction not kept (unknown, not
    made through an alias, or older than FEEDBACK_TTL), Conflict when its outcome is
    already recorded, InvalidInput (at `path`) for labels that do not fit its answer."""
    found = store.prediction(request_id)
    if found is None or "outcome" not in found:
        raise NotFound(
            f"No prediction {request_id!r} is kept: only predictions through an alias are, "
            "for FEEDBACK_TTL, from about a second after their answer."
        )
    alias, job_id = found["alias"].decode(), found["target"].decode()
    answer = Outcome.from_document(found["outcome"])
    problem = outcomes.check_labels(answer, labels)
    if problem is not None:
        raise InvalidInput({path: [problem]})
    counts = {(alias, TARGET, job_id): outcomes.feedback(answer, labels)}
    if "shadow_outcome" in found:  # the shadow answered it too: score it on the same truth
        shadow = Outcome.from_document(found["shadow_outcome"])
        if outcomes.check_labels(shadow, labels) is None:
            counts[(alias, SHADOW, found["shadow"].decode())] = outcomes.feedback(shadow, labels)
    if not store.record_outcome(request_id, orjson.dumps(labels), counts):
        raise Conflict(f"The outcome of prediction {request_id!r} is already recorded.")
    if payloads.enabled:
        payloads.offer(
            alias,
            {
                "type": "feedback",
                "time": time.time(),
                "request_id": request_id,
                "alias": alias,
                "job_id": job_id,
                "labels": labels,
            },
        )
    return {"alias": alias, "job_id": job_id}
