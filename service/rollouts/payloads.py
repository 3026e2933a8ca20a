"""Sampled requests and answers of an alias, as JSON Lines files in the artifact store
(`payloads/<alias>/`), for drift analysis and for joining with the outcomes clients
feed back (by request ID).

The request thread only queues a record (dropped and counted when the queue is full);
this process's writer thread serializes it into the alias's open file, held in memory,
and publishes the file whole when it reaches PAYLOAD_LOG_MAX_BYTES or has been open
PAYLOAD_LOG_MAX_SECONDS, or when the process stops. A file is published or absent,
never half there: a crash loses the open file's records, never leaves an unreadable one.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from service import metrics
from service.ml.artifacts import ArtifactStore

QUEUE_SIZE = 4096
_TICK_S = 0.25  # how often the writer looks at the open files' ages
log = logging.getLogger(__name__)


@dataclass
class _OpenFile:
    opened: float = field(default_factory=time.monotonic)
    lines: bytearray = field(default_factory=bytearray)


class PayloadLog:
    def __init__(
        self, artifacts: ArtifactStore, rate: float, max_bytes: int, max_age_s: float
    ) -> None:
        self.artifacts, self.rate = artifacts, rate
        self.max_bytes, self.max_age_s = max_bytes, max_age_s
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(QUEUE_SIZE)
        self._open: dict[str, _OpenFile] = {}
        self._writer_pid: int | None = None
        self._lock = threading.Lock()
        self._sequence = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def offer(self, alias: str, record: dict[str, Any]) -> None:
        """Queue one record of `alias`'s log (NumPy arrays are welcome)."""
        self._ensure_writer()
        try:
            self._queue.put_nowait((alias, record))
        except queue.Full:
            metrics.payload_dropped()

    def close(self) -> None:
        """Write what is queued and publish every open file (the process is stopping)."""
        if self._writer_pid != os.getpid():
            return
        self._queue.put(None)
        self._queue.join()

    def _ensure_writer(self) -> None:
        if self._writer_pid == os.getpid():
            return
        with self._lock:
            if self._writer_pid != os.getpid():
                self._writer_pid = os.getpid()
                self._open = {}
                threading.Thread(
                    target=self._write_forever, name="payload-log", daemon=True
                ).start()

    def _write_forever(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=_TICK_S)
            except queue.Empty:
                item = ()
            try:
                if item is None:
                    for alias in list(self._open):
                        self._publish(alias)
                elif item:
                    self._append(*item)
                self._rotate()
            except Exception:
                log.exception("payload log not written")
            finally:
                if item != ():
                    self._queue.task_done()

    def _append(self, alias: str, record: dict[str, Any]) -> None:
        line = orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)
        self._open.setdefault(alias, _OpenFile()).lines += line

    def _rotate(self) -> None:
        now = time.monotonic()
        for alias, open_file in list(self._open.items()):
            if len(open_file.lines) >= self.max_bytes or now - open_file.opened >= self.max_age_s:
                self._publish(alias)

    def _publish(self, alias: str) -> None:
        open_file = self._open.pop(alias)
        if not open_file.lines:
            return
        self._sequence += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{socket.gethostname()}-{os.getpid()}-{self._sequence}.jsonl"
        self.artifacts.put_whole(self.artifacts.payload_path(alias, name), bytes(open_file.lines))
