"""Mirrored requests: after the primary has answered, its batch waits in a bounded
queue for this process's shadow thread, which runs the shadow's model on it and
records how it did and how far it is from the primary. A full queue drops the work
(and counts it): a shadow never slows or fails the request it mirrors."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from service import metrics
from service.errors import ServiceError
from service.rollouts import outcomes
from service.rollouts.outcomes import Outcome
from service.rollouts.recorder import Recorder, answered

SHADOW = "shadow"
log = logging.getLogger(__name__)
# (job ID, batch) -> (outputs, class map): the same model path the request used.
RunModel = Callable[[str, np.ndarray], tuple[np.ndarray, dict[str, Any] | None]]


@dataclass(frozen=True)
class Mirror:
    alias: str
    job_id: str  # the shadow's
    batch: np.ndarray
    primary: Outcome
    request_id: str | None  # its record gains the shadow's answer, for feedback


class ShadowRunner:
    def __init__(self, run_model: RunModel, recorder: Recorder, size: int) -> None:
        self.run_model, self.recorder = run_model, recorder
        self._queue: queue.Queue[Mirror] = queue.Queue(maxsize=size)
        self._thread_pid: int | None = None
        self._lock = threading.Lock()

    def offer(self, mirror: Mirror) -> bool:
        """Queue a mirrored request; False (counted as dropped) when the queue is full."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(mirror)
        except queue.Full:
            self.recorder.count(mirror.alias, SHADOW, mirror.job_id, {"dropped": 1})
            metrics.shadow_dropped(mirror.alias)
            return False
        return True

    def drain(self) -> None:
        """Wait until every queued mirror has run (tests and shutdown)."""
        self._queue.join()

    def _ensure_thread(self) -> None:
        if self._thread_pid == os.getpid():
            return
        with self._lock:
            if self._thread_pid != os.getpid():
                self._thread_pid = os.getpid()
                threading.Thread(target=self._run_forever, name="shadow", daemon=True).start()

    def _run_forever(self) -> None:
        while True:
            mirror = self._queue.get()
            try:
                self._run(mirror)
            except Exception:
                log.exception("shadow request for %s not recorded", mirror.alias)
            finally:
                self._queue.task_done()

    def _run(self, mirror: Mirror) -> None:
        started = time.perf_counter()
        status, answer = 200, None
        try:
            outputs, classes = self.run_model(mirror.job_id, mirror.batch)
            answer = Outcome.of(outputs, classes)
        except ServiceError as exc:  # the shadow cannot take this request (or is gone)
            status = exc.status
        except Exception:
            log.exception("shadow %s failed on a request of %s", mirror.job_id, mirror.alias)
            status = 500
        seconds = time.perf_counter() - started
        counters = answered(status, seconds)
        if answer is not None:
            counters |= outcomes.distribution(answer)
            compared = outcomes.agreement(mirror.primary, answer)
            counters |= compared
            metrics.shadow_compared(mirror.alias, mirror.job_id, compared)
            if mirror.request_id is not None:
                self.recorder.remember(
                    mirror.request_id,
                    {"shadow": mirror.job_id, "shadow_outcome": answer.document()},
                )
        metrics.alias_answered(mirror.alias, mirror.job_id, SHADOW, seconds, status >= 400)
        self.recorder.count(mirror.alias, SHADOW, mirror.job_id, counters)
