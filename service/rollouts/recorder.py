"""This process's share of every alias's counters and prediction records, written to
Redis once a second from a thread of its own: the request thread only adds to a dict."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping

from service.errors import StoreUnavailable
from service.rollouts.stats import latency_bucket
from service.store.rollouts import Counters, RolloutStore

FLUSH_S = 1.0
# Prediction records waiting for Redis: beyond this (Redis down for long), the oldest
# are dropped rather than growing the process.
MAX_WAITING = 100_000
log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, store: RolloutStore, interval_s: float = FLUSH_S) -> None:
        self.store, self.interval_s = store, interval_s
        self._counts: dict[tuple[str, str, str], Counters] = {}
        self._predictions: list[tuple[str, Mapping[str, bytes | str]]] = []
        self._lock = threading.Lock()
        self._flusher_pid: int | None = None

    def count(self, alias: str, role: str, job_id: str, counters: Counters) -> None:
        """Add counters to what (alias, role, job) did."""
        with self._lock:
            mine = self._counts.setdefault((alias, role, job_id), {})
            for name, value in counters.items():
                mine[name] = mine.get(name, 0) + value
        self._ensure_flusher()

    def remember(self, request_id: str, fields: Mapping[str, bytes | str]) -> None:
        """Store fields of a prediction's record (added to any it already has)."""
        with self._lock:
            self._predictions.append((request_id, fields))
            if len(self._predictions) > MAX_WAITING:
                del self._predictions[: len(self._predictions) - MAX_WAITING]
        self._ensure_flusher()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, {}
            predictions, self._predictions = self._predictions, []
        if not counts and not predictions:
            return
        try:
            self.store.add(counts, predictions)
        except StoreUnavailable:  # counted as lost, and logged by the store
            log.warning(
                "rollout counters of %d models and %d predictions lost: Redis is unreachable",
                len(counts),
                len(predictions),
            )

    def _ensure_flusher(self) -> None:
        # One flusher per process, started in it: gunicorn forks workers before they
        # import the app, but a test or tool may fork after.
        if self._flusher_pid == os.getpid():
            return
        with self._lock:
            if self._flusher_pid != os.getpid():
                self._flusher_pid = os.getpid()
                threading.Thread(
                    target=self._flush_every, name="rollout-recorder", daemon=True
                ).start()

    def _flush_every(self) -> None:
        while True:
            time.sleep(self.interval_s)
            try:
                self.flush()
            except Exception:  # never let the thread die: the next second tries again
                log.exception("rollout counters not written")


def answered(status: int, seconds: float) -> Counters:
    """The counters of one answer: its status and its latency bucket."""
    counters: Counters = {
        "requests": 1,
        f"status:{status}": 1,
        f"latency:{latency_bucket(seconds)}": 1,
    }
    if status >= 400:
        counters["errors"] = 1
    return counters
