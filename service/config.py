"""Settings, read once from the environment at start-up and passed down.

Every setting has a documented default (README, "Configuration"); a malformed value stops
start-up with a message naming the variable rather than failing on the first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Settings:
    # Where jobs and their progress live. `make run` points this at a private
    # redis-server when it is unset.
    redis_url: str = "redis://127.0.0.1:6379/0"
    # One directory per job ID under this root holds the trained model and its documents.
    artifact_root: str = "var/artifacts"
    # The RQ queue the API enqueues on and the worker serves.
    queue_name: str = "training"
    # A training that runs longer than this is stopped by RQ and marked failed.
    job_timeout_s: int = 3600
    # How long finished and failed job records stay in Redis (artifacts stay on disk).
    job_ttl_s: int = 30 * 24 * 3600
    # Trained models kept loaded per API process (least recently used ones are dropped).
    model_cache_size: int = 8
    # Largest request body accepted (inline training data included); larger gets 413.
    max_body_bytes: int = 32 * 1024 * 1024
    # Largest model accepted, counted by building it with Keras before queueing.
    max_params: int = 10_000_000
    # Most rows in one predict request.
    max_predict_rows: int = 10_000
    # How long a Redis call may hang before the API answers 503.
    redis_timeout_s: float = 2.0
    # Models each API process loads at start instead of on first use: job IDs separated
    # by commas, or "*" for the most recently trained ones (up to MODEL_CACHE_SIZE).
    preload_models: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from environment variables named like the fields, upper-cased,
        without the unit suffix (REDIS_URL, JOB_TIMEOUT, MODEL_CACHE_SIZE, ...)."""
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            name = env_name(f.name)
            if name not in env:
                continue
            raw = env[name]
            try:
                values[f.name] = _cast(f.type, raw)
            except ValueError:
                kind = {"int": "an integer", "float": "a number"}.get(f.type, "text")
                raise ValueError(f"{name} must be {kind}. Received: {raw!r}") from None
        return cls(**values)


def env_name(field_name: str) -> str:
    """The environment variable that sets a field: `job_timeout_s` -> `JOB_TIMEOUT`."""
    return field_name.removesuffix("_s").upper()


def _cast(type_name: str, raw: str) -> object:
    # Field types are strings because of `from __future__ import annotations`.
    if type_name == "int":
        return int(raw)
    if type_name == "float":
        return float(raw)
    return raw
