"""What models did with an alias's traffic, added up in Redis by every API process.

Each (alias, role, job) has a hash of counters (service.rollouts.recorder writes them
once a second per process, in one pipeline); each prediction through an alias leaves a
short record of what it answered, under its request ID, for the outcome a client may
feed back within FEEDBACK_TTL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from redis import Redis
from redis.exceptions import WatchError

from service.store import keys, translated

Counters = dict[str, float]


@translated
class RolloutStore:
    def __init__(self, redis: Redis, feedback_ttl_s: int) -> None:
        self.redis = redis
        self.feedback_ttl_s = feedback_ttl_s

    def add(
        self,
        counts: Mapping[tuple[str, str, str], Counters],
        predictions: Iterable[tuple[str, Mapping[str, bytes | str]]],
    ) -> None:
        """Add counters by (alias, role, job) and store prediction records (request ID,
        fields; fields of an existing record are added to it), in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for (alias, role, job_id), counters in counts.items():
                key = keys.rollout_stats(alias, role, job_id)
                pipe.sadd(keys.rollout_members(alias), f"{role}:{job_id}")
                for name, value in counters.items():
                    if isinstance(value, int):
                        pipe.hincrby(key, name, value)
                    else:
                        pipe.hincrbyfloat(key, name, value)
            if self.feedback_ttl_s > 0:
                for request_id, fields in predictions:
                    key = keys.prediction(request_id)
                    pipe.hset(key, mapping=dict(fields))
                    pipe.expire(key, self.feedback_ttl_s)
            pipe.execute()

    def stats(self, alias: str) -> dict[tuple[str, str], Counters]:
        """Every model's counters under an alias, by (role, job)."""
        members = sorted(m.decode() for m in self.redis.smembers(keys.rollout_members(alias)))
        with self.redis.pipeline(transaction=False) as pipe:
            for member in members:
                role, _, job_id = member.partition(":")
                pipe.hgetall(keys.rollout_stats(alias, role, job_id))
            found = pipe.execute()
        result = {}
        for member, raw in zip(members, found, strict=True):
            role, _, job_id = member.partition(":")
            result[(role, job_id)] = {k.decode(): float(v) for k, v in raw.items()}
        return result

    def prediction(self, request_id: str) -> dict[str, bytes] | None:
        """The record of a prediction through an alias, or None (never made, or older
        than FEEDBACK_TTL)."""
        raw = self.redis.hgetall(keys.prediction(request_id))
        return {k.decode(): v for k, v in raw.items()} or None

    def record_outcome(
        self, request_id: str, label: bytes, counts: Mapping[tuple[str, str, str], Counters]
    ) -> bool:
        """Store a prediction's true outcome and add its counters, once: False when an
        outcome was already recorded for it (or its record has expired meanwhile)."""
        key = keys.prediction(request_id)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    if not pipe.exists(key) or pipe.hexists(key, "label"):
                        pipe.unwatch()
                        return False
                    pipe.multi()
                    pipe.hset(key, "label", label)
                    for (alias, role, job_id), counters in counts.items():
                        stats = keys.rollout_stats(alias, role, job_id)
                        pipe.sadd(keys.rollout_members(alias), f"{role}:{job_id}")
                        for name, value in counters.items():
                            pipe.hincrbyfloat(stats, name, value)
                    pipe.execute()
                    return True
                except WatchError:
                    continue

    def delete(self, alias: str) -> None:
        """Forget an alias's counters (its prediction records expire on their own)."""
        members = [m.decode() for m in self.redis.smembers(keys.rollout_members(alias))]
        stats = [keys.rollout_stats(alias, *m.split(":", 1)) for m in members]
        self.redis.delete(keys.rollout_members(alias), *stats)
