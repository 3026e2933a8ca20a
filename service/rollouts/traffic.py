"""What happens once a prediction through an alias has its answer: its counters and
its record (for feedback) go to the recorder, its batch may be mirrored to the shadow,
and it may be sampled into the payload log. All of it off the request's own work: the
request thread only adds to in-memory buffers and queues."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from service import metrics
from service.rollouts import outcomes
from service.rollouts.outcomes import Outcome
from service.rollouts.payloads import PayloadLog
from service.rollouts.recorder import Recorder, answered
from service.rollouts.routing import Route
from service.rollouts.shadow import Mirror, ShadowRunner

TARGET = "target"
# Predictions of more rows than this keep no record for feedback (a record holds each
# row's answer for FEEDBACK_TTL).
FEEDBACK_MAX_ROWS = 1_000


@dataclass
class Routed:
    """A prediction request's model: the job that answers and, through an alias, the
    alias and its setting; then the batch and what the model made of it."""

    job_id: str
    alias: str | None = None
    route: Route | None = None
    batch: np.ndarray | None = None
    outputs: np.ndarray | None = None
    classes: dict[str, Any] | None = None


class Traffic:
    def __init__(self, recorder: Recorder, shadows: ShadowRunner, payloads: PayloadLog) -> None:
        self.recorder, self.shadows, self.payloads = recorder, shadows, payloads

    def observe(self, routed: Routed, status: int, seconds: float, request_id: str | None) -> None:
        """Account for one answered request through an alias."""
        alias, job_id, route = routed.alias, routed.job_id, routed.route
        if alias is None or route is None:  # a job ID: nothing to account for
            return
        counters = answered(status, seconds)
        metrics.alias_answered(alias, job_id, TARGET, seconds, status >= 400)
        if routed.outputs is None or status >= 400:
            self.recorder.count(alias, TARGET, job_id, counters)
            return
        outcome = Outcome.of(routed.outputs, routed.classes)
        counters |= outcomes.distribution(outcome)
        self.recorder.count(alias, TARGET, job_id, counters)
        remembered = request_id is not None and len(outcome.rows) <= FEEDBACK_MAX_ROWS
        if remembered:
            self.recorder.remember(
                request_id, {"alias": alias, "target": job_id, "outcome": outcome.document()}
            )
        shadow = route.shadow
        if shadow is not None and route.mirrors():
            self.shadows.offer(
                Mirror(
                    alias, shadow.job_id, routed.batch, outcome, request_id if remembered else None
                )
            )
        if self.payloads.enabled and random.random() < self.payloads.rate:
            self.payloads.offer(
                alias,
                {
                    "type": "prediction",
                    "time": time.time(),
                    "request_id": request_id,
                    "alias": alias,
                    "job_id": job_id,
                    "inputs": routed.batch,
                    "outputs": routed.outputs,
                },
            )
