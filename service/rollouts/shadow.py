"""Mirrored requests: after the primary has answered, its batch waits in a bounded
queue for this process's shadow thread, which runs the shadow's model on it and
records how it did and how far it is from the primary. A full queue drops the work
(and counts it): a shadow never fails the request it mirrors.

The thread gathers what arrives over GATHER_S and runs each shadow model once on all of
it (the rows stacked): one session call and one round of counters instead of one per
request, and the thread holds the interpreter in short bursts rather than after every
answer, when the next request of the same process would wait for it. Measured at one
connection (bench/rollouts.py, one run): a model call per mirror added 28 % to the
primary's p50, gathering for 0.05 s 13 %, for 0.25 s 2 %. A mirrored request's latency
is therefore that of the model call it was part of, and SHADOW_QUEUE_SIZE must hold
GATHER_S of requests."""

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
GATHER_S = 0.25
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
            mirrors = [self._queue.get()]
            time.sleep(GATHER_S)
            while True:
                try:
                    mirrors.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            groups: dict[tuple[str, str, tuple[int, ...]], list[Mirror]] = {}
            for mirror in mirrors:
                key = (mirror.alias, mirror.job_id, mirror.batch.shape[1:])
                groups.setdefault(key, []).append(mirror)
            for group in groups.values():
                try:
                    self._run(group)
                except Exception:
                    log.exception("shadow requests for %s not recorded", group[0].alias)
            for _ in mirrors:
                self._queue.task_done()

    def _run(self, group: list[Mirror]) -> None:
        """Run one shadow on the stacked batches of its mirrored requests."""
        alias, job_id = group[0].alias, group[0].job_id
        started = time.perf_counter()
        status, answer = 200, None
        try:
            outputs, classes = self.run_model(job_id, np.concatenate([m.batch for m in group]))
            answer = Outcome.of(outputs, classes)
        except ServiceError as exc:  # the shadow cannot take these requests (or is gone)
            status = exc.status
        except Exception:
            log.exception("shadow %s failed on requests of %s", job_id, alias)
            status = 500
        seconds = time.perf_counter() - started
        total: dict[str, float] = {}
        start = 0
        for mirror in group:
            counters = answered(status, seconds)
            if answer is not None:
                rows = Outcome(answer.kind, answer.rows[start : start + len(mirror.batch)])
                start += len(mirror.batch)
                counters |= outcomes.distribution(rows)
                counters |= outcomes.agreement(mirror.primary, rows)
                if mirror.request_id is not None:
                    self.recorder.remember(
                        mirror.request_id, {"shadow": job_id, "shadow_outcome": rows.document()}
                    )
            for name, value in counters.items():
                total[name] = total.get(name, 0) + value
            metrics.alias_answered(alias, job_id, SHADOW, seconds, status >= 400)
        if answer is not None:
            metrics.shadow_compared(alias, job_id, total)
        self.recorder.count(alias, SHADOW, job_id, total)
