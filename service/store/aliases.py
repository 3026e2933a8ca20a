"""Model aliases: stable names (`digits-prod`) that point at finished jobs.

Applications predict through an alias and operators move it to a newer job, or split
its traffic over weighted targets and mirror it to a shadow (service.rollouts); a
request resolves the alias once, to one setting or the next, and every model either
uses is stored, so no request fails while it changes. Aliases live in Redis (a hash of
name -> setting, and a capped history per name). Each API process remembers a
resolution for a second, so predicting through an alias costs no Redis call on the hot
path, and keeps predicting with the last known setting while Redis is unreachable.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from service.rollouts.routing import Route
from service.store import keys, translated

HISTORY_LENGTH = 50


@dataclass(frozen=True)
class Alias:
    name: str
    route: Route
    updated_at: str
    history: list[dict[str, Any]]

    @property
    def job_id(self) -> str:
        """The primary target."""
        return self.route.primary

    def resource(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "job_id": self.job_id,
            **self.route.document(),
            "updated_at": self.updated_at,
            "history": self.history,
        }


@translated
class AliasStore:
    def __init__(self, redis: Redis, remember_s: float = 1.0) -> None:
        self.redis = redis
        self.remember_s = remember_s
        self._known: dict[str, tuple[Route | None, float]] = {}
        self._lock = threading.Lock()

    def set(self, name: str, route: Route | str) -> tuple[Alias, bool]:
        """Give `name` a setting (a route, or one job ID for all traffic); returns the
        alias and whether it was created. An alias that already has this setting is
        left as it is (its history gains nothing)."""
        if isinstance(route, str):
            route = Route.of({"job_id": route})
        entry = orjson.dumps({**route.document(), "updated_at": _now()})
        with self.redis.pipeline() as pipe:
            while True:  # optimistic: read, then write unless another request moved it
                try:
                    pipe.watch(keys.ALIASES)
                    current = pipe.hget(keys.ALIASES, name)
                    if current is not None and Route.of(orjson.loads(current)) == route:
                        pipe.unwatch()
                        created = False
                        break
                    pipe.multi()
                    pipe.hset(keys.ALIASES, name, entry)
                    pipe.lpush(keys.alias_history(name), entry)
                    pipe.ltrim(keys.alias_history(name), 0, HISTORY_LENGTH - 1)
                    created = pipe.execute()[0] == 1
                    break
                except WatchError:
                    continue
        with self._lock:
            self._known[name] = (route, time.monotonic())
        return self.get(name), created  # type: ignore[return-value]

    def get(self, name: str) -> Alias | None:
        raw = self.redis.hget(keys.ALIASES, name)
        if raw is None:
            return None
        return self._alias(name, raw, self.redis.lrange(keys.alias_history(name), 0, -1))

    def list(self) -> list[Alias]:
        names = sorted(n.decode() for n in self.redis.hkeys(keys.ALIASES))
        return [a for a in (self.get(n) for n in names) if a is not None]

    def delete(self, name: str) -> bool:
        with self.redis.pipeline() as pipe:
            pipe.hdel(keys.ALIASES, name)
            pipe.delete(keys.alias_history(name))
            removed = pipe.execute()[0] == 1
        with self._lock:
            self._known.pop(name, None)
        return removed

    def pointing_to(self, job_id: str) -> list[str]:
        """Names of the aliases that use `job_id` (as a target or as their shadow)."""
        entries = self.redis.hgetall(keys.ALIASES)
        return sorted(
            name.decode()
            for name, raw in entries.items()
            if job_id in Route.of(orjson.loads(raw)).job_ids
        )

    def resolve(self, name: str) -> Route | None:
        """An alias's setting, or None; remembered for `remember_s`, and kept while
        Redis cannot be reached (models keep serving through an outage)."""
        now = time.monotonic()
        with self._lock:
            known = self._known.get(name)
        if known is not None and now - known[1] < self.remember_s:
            return known[0]
        try:
            raw = self.redis.hget(keys.ALIASES, name)
        except (RedisConnectionError, RedisTimeoutError):
            if known is not None and known[0] is not None:
                return known[0]
            raise
        route = Route.of(orjson.loads(raw)) if raw is not None else None
        with self._lock:
            self._known[name] = (route, now)
        return route

    def _alias(self, name: str, raw: bytes, history: list[bytes]) -> Alias:
        current = orjson.loads(raw)
        return Alias(
            name=name,
            route=Route.of(current),
            updated_at=current["updated_at"],
            history=[_setting(orjson.loads(h)) for h in history],
        )


def _setting(entry: dict[str, Any]) -> dict[str, Any]:
    """A history entry as the API shows it, whichever form it was stored in."""
    route = Route.of(entry)
    return {"job_id": route.primary, **route.document(), "updated_at": entry["updated_at"]}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
