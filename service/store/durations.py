"""How long training jobs ran, as a Prometheus histogram kept in Redis.

Training runs in worker processes that serve no HTTP, so the worker observes each job
into one Redis hash (two HINCRBYs, atomically) and every API process exposes the same
totals at scrape time (service.metrics). This stays right however many workers and API
processes there are and across their restarts, costs a scrape one HGETALL, and only
grows, as a histogram must: unlike job records, which expire after JOB_TTL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis import Redis

from service.store import keys, translated

# Upper bounds, seconds: seed recipes take seconds; JOB_TIMEOUT defaults to an hour.
BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, math.inf)
OUTCOMES = ("finished", "failed", "canceled", "pruned")


@dataclass(frozen=True)
class Histogram:
    """One outcome's observations: cumulative counts per upper bound, and their sum."""

    buckets: list[tuple[float, int]]
    sum: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1]


@translated
def observe(redis: Redis, outcome: str, seconds: float) -> None:
    """Count one job that ended with `outcome` after `seconds` (worker side)."""
    bound = next(b for b in BUCKETS if seconds <= b)
    pipe = redis.pipeline()  # MULTI: a scrape never sees a count without its sum
    pipe.hincrby(keys.TRAINING_SECONDS, f"{outcome}:{bound}", 1)
    pipe.hincrbyfloat(keys.TRAINING_SECONDS, f"{outcome}:sum", seconds)
    pipe.execute()


@translated
def read(redis: Redis) -> dict[str, Histogram]:
    """The histogram of each outcome observed so far (API side)."""
    fields = {k.decode(): float(v) for k, v in redis.hgetall(keys.TRAINING_SECONDS).items()}
    found = {}
    for outcome in OUTCOMES:
        if f"{outcome}:sum" not in fields:
            continue
        total, buckets = 0, []
        for bound in BUCKETS:
            total += int(fields.get(f"{outcome}:{bound}", 0))
            buckets.append((bound, total))
        found[outcome] = Histogram(buckets, fields[f"{outcome}:sum"])
    return found
