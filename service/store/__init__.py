"""The job store: everything the service keeps in Redis, through RQ or directly.

This package is the only code of the API that imports `redis` or `rq` (a ruff rule,
TID251, refuses them elsewhere; the worker imports them too). It names every key once
(`keys`), holds the one map from RQ's job statuses to ours (`jobs.STATUS_FROM_RQ`), and
turns every Redis failure into `StoreUnavailable`, a 503 with Retry-After, at the edge
of each store class (`translated`), so no caller ever sees a Redis exception.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from redis import Redis
from redis.exceptions import RedisError

from service.config import Settings
from service.errors import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


def connect(settings: Settings) -> Redis:
    """A Redis client that fails fast (503) rather than hanging a request."""
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_timeout_s,
        socket_timeout=settings.redis_timeout_s,
    )


def unavailable(exc: RedisError) -> StoreUnavailable:
    """The problem a client sees for a Redis failure; the failure itself is logged."""
    log.warning("job store failed: %s: %s", type(exc).__name__, exc)
    return StoreUnavailable("The job store is unreachable right now; try again shortly.")


def translated(obj: T) -> T:
    """A store function, or every public method of a store class, raising
    StoreUnavailable for a Redis failure (chained to it, for the log's traceback)."""
    if inspect.isfunction(obj):
        return _translating(obj)  # type: ignore[return-value]
    for name, method in list(vars(obj).items()):
        if not name.startswith("_") and inspect.isfunction(method):
            setattr(obj, name, _translating(method))
    return obj


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except RedisError as exc:
            raise unavailable(exc) from exc

    return call
