"""Sweeps in Redis: each sweep's definition and counters, its active trials and the
outcome of every trial, kept so that any worker or API process can take the sweep on.

No process drives a sweep: whoever sees a trial end settles it and launches the next
(service.sweeps.runner). What must not race is decided here, in Lua scripts that Redis
runs atomically: claiming a trial slot (never more than `trials` launched, never more
than `parallel` active, none once canceled or out of time) and closing the sweep (once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from redis import Redis

from service.store import keys, translated

# A claim (a trial being launched) older than this was left by a process that died
# between claiming and queueing: its slot is given back. So is a sweep closed this long
# ago whose closer died before finishing it.
CLAIM_TTL_S = 120
CLAIM = "claim:"

# KEYS: the sweep hash, its active set. ARGV: now. Returns the claim, or nil.
_CLAIM = """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return nil end
local launched = tonumber(redis.call('HGET', KEYS[1], 'launched'))
if launched >= tonumber(redis.call('HGET', KEYS[1], 'trials')) then return nil end
if tonumber(ARGV[1]) >= tonumber(redis.call('HGET', KEYS[1], 'deadline')) then return nil end
if redis.call('SCARD', KEYS[2]) >= tonumber(redis.call('HGET', KEYS[1], 'parallel')) then
  return nil
end
redis.call('HINCRBY', KEYS[1], 'launched', 1)
local claim = 'claim:' .. launched .. ':' .. ARGV[1]
redis.call('SADD', KEYS[2], claim)
return claim
"""
# KEYS: the sweep hash, its active set. ARGV: now, the state a running sweep ends in.
# Closes a sweep with no active trial and none left to launch; returns 1 the one time
# it closes it. The closer then records the result and sets `ended_at` (`finish`).
_CLOSE = """
if redis.call('HEXISTS', KEYS[1], 'closed_at') == 1 then return 0 end
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'running' then
  local more = tonumber(redis.call('HGET', KEYS[1], 'launched'))
    < tonumber(redis.call('HGET', KEYS[1], 'trials'))
  if more and tonumber(ARGV[1]) < tonumber(redis.call('HGET', KEYS[1], 'deadline')) then
    return 0
  end
  redis.call('HSET', KEYS[1], 'state', ARGV[2])
end
redis.call('HSET', KEYS[1], 'closed_at', ARGV[1])
return 1
"""
_CANCEL = """
if redis.call('HGET', KEYS[1], 'state') == 'running' then
  redis.call('HSET', KEYS[1], 'state', 'canceled')
end
"""


@dataclass(frozen=True)
class SweepState:
    """A sweep as stored: its definition (the checked request) and where it stands."""

    id: str
    definition: dict[str, Any]
    state: str  # running, canceled, finished, failed
    created_at: float
    deadline: float
    closed_at: float | None  # nothing left to run; ended once its result is recorded
    ended_at: float | None
    launched: int
    active: list[str]  # job IDs of queued or running trials (and claims)
    result: dict[str, Any] | None
    importance: dict[str, float] | None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


@translated
class SweepStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._close = redis.register_script(_CLOSE)
        self._cancel = redis.register_script(_CANCEL)

    def create(self, sweep_id: str, definition: dict[str, Any]) -> None:
        now = time.time()
        pipe = self.redis.pipeline()
        pipe.hset(
            keys.sweep(sweep_id),
            mapping={
                "definition": orjson.dumps(definition),
                "state": "running",
                "created_at": now,
                "deadline": now + definition["max_seconds"],
                "launched": 0,
                "trials": definition["trials"],
                "parallel": definition["parallel"],
            },
        )
        pipe.zadd(keys.SWEEPS, {sweep_id: now})
        pipe.execute()

    def get(self, sweep_id: str) -> SweepState | None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.sweep(sweep_id))
        pipe.smembers(keys.sweep_active(sweep_id))
        raw, active = pipe.execute()
        if not raw:
            return None
        fields = {k.decode(): v for k, v in raw.items()}
        return SweepState(
            id=sweep_id,
            definition=orjson.loads(fields["definition"]),
            state=fields["state"].decode(),
            created_at=float(fields["created_at"]),
            deadline=float(fields["deadline"]),
            closed_at=float(fields["closed_at"]) if "closed_at" in fields else None,
            ended_at=float(fields["ended_at"]) if "ended_at" in fields else None,
            launched=int(fields["launched"]),
            active=sorted(a.decode() for a in active),
            result=orjson.loads(fields["result"]) if "result" in fields else None,
            importance=orjson.loads(fields["importance"]) if "importance" in fields else None,
        )

    def ids(self, limit: int) -> list[str]:
        """Sweep IDs, newest first."""
        return [i.decode() for i in self.redis.zrevrange(keys.SWEEPS, 0, limit - 1)]

    def claim(self, sweep_id: str) -> str | None:
        """A slot for one more trial, if the sweep may launch one now; it counts as
        active until `activate` (or `release`) replaces it."""
        found = self._claim(
            keys=[keys.sweep(sweep_id), keys.sweep_active(sweep_id)], args=[time.time()]
        )
        return found.decode() if found is not None else None

    def activate(self, sweep_id: str, claim: str, job_id: str) -> None:
        pipe = self.redis.pipeline()
        pipe.srem(keys.sweep_active(sweep_id), claim)
        pipe.sadd(keys.sweep_active(sweep_id), job_id)
        pipe.execute()

    def release(self, sweep_id: str, member: str) -> None:
        """Remove a trial (job ID or claim) from the active ones, once it is settled:
        the sweep closes when none is left, so every outcome is recorded by then."""
        self.redis.srem(keys.sweep_active(sweep_id), member)

    def settle_once(self, sweep_id: str, job_id: str) -> bool:
        """True for the one caller that is to settle this trial."""
        return self.redis.sadd(keys.sweep_settled(sweep_id), job_id) == 1

    def stale_claims(self, sweep: SweepState) -> list[str]:
        now = time.time()
        return [
            claim
            for claim in sweep.active
            if claim.startswith(CLAIM) and now - float(claim.rsplit(":", 1)[1]) > CLAIM_TTL_S
        ]

    def put_trial(self, sweep_id: str, trial: dict[str, Any], ended: bool = False) -> None:
        """Record a trial (by its number); `ended` adds it to the sweep's events."""
        pipe = self.redis.pipeline()
        pipe.hset(keys.sweep_trials(sweep_id), str(trial["number"]), orjson.dumps(trial))
        if ended:
            pipe.rpush(keys.sweep_ended(sweep_id), trial["number"])
        pipe.execute()

    def trials(self, sweep_id: str) -> list[dict[str, Any]]:
        """Every trial recorded, by number."""
        raw = self.redis.hgetall(keys.sweep_trials(sweep_id))
        return sorted((orjson.loads(v) for v in raw.values()), key=lambda t: t["number"])

    def ended_trials(self, sweep_id: str, start: int = 0) -> list[int]:
        """Numbers of the trials that have ended, in the order they did, from `start`."""
        return [int(n) for n in self.redis.lrange(keys.sweep_ended(sweep_id), start, -1)]

    def cancel(self, sweep_id: str) -> None:
        """No trial launches from now on; a running sweep reads `canceled`."""
        self._cancel(keys=[keys.sweep(sweep_id)])

    def close(self, sweep_id: str, state: str) -> bool:
        """End the sweep in `state` if nothing is active and nothing is left to launch
        (a canceled sweep keeps `canceled`); True the one time it is closed."""
        closed = self._close(
            keys=[keys.sweep(sweep_id), keys.sweep_active(sweep_id)], args=[time.time(), state]
        )
        return closed == 1

    def finish(self, sweep_id: str) -> None:
        """Mark a closed sweep ended, its result recorded."""
        self.redis.hset(keys.sweep(sweep_id), "ended_at", time.time())

    def set_result(self, sweep_id: str, result: dict[str, Any]) -> None:
        self.redis.hset(keys.sweep(sweep_id), "result", orjson.dumps(result))

    def set_importance(self, sweep_id: str, importance: dict[str, float]) -> None:
        self.redis.hset(keys.sweep(sweep_id), "importance", orjson.dumps(importance))

    def delete(self, sweep_id: str) -> None:
        """Forget a sweep: its records and its study's journal."""
        study = list(self.redis.scan_iter(match=f"{keys.study(sweep_id)}:*", count=1000))
        pipe = self.redis.pipeline()
        pipe.zrem(keys.SWEEPS, sweep_id)
        for key in (
            keys.sweep,
            keys.sweep_active,
            keys.sweep_settled,
            keys.sweep_trials,
            keys.sweep_ended,
        ):
            pipe.delete(key(sweep_id))
        if study:
            pipe.delete(*study)
        pipe.execute()
