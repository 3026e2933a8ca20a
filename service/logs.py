"""Log lines as JSON (or text), each carrying the request ID it was logged for.

The ID lives in a context variable: the API sets it for each request
(service.request_ids), the worker for each job from the job's meta (worker.main), and
a filter on the one handler copies it into every record, so any module's plain
`log.info(...)` is tagged without passing the ID around. No Flask here: the worker
and service.jobs use this module too.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

FORMATS = ("json", "text")
MAX_REQUEST_ID = 128
ACCESS_LOGGER = "gunicorn.access"
TEXT_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The ID of the request (or, in a worker, of the job's request) being handled."""
    return _request_id.get()


def bind_request_id(request_id: str | None) -> Token[str | None]:
    """Tag the lines logged from now on in this context; `unbind_request_id(token)`
    undoes it (for hooks that cannot hold a `with` block)."""
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Tag every line logged inside the block with `request_id`."""
    token = bind_request_id(request_id)
    try:
        yield
    finally:
        unbind_request_id(token)


def is_valid_request_id(value: str) -> bool:
    """A client's X-Request-ID is kept if it is 1-128 printable ASCII characters: it
    goes into log lines and a response header, so no control characters."""
    return 0 < len(value) <= MAX_REQUEST_ID and value.isascii() and value.isprintable()


def request_id_from(header: str | None) -> str:
    """The client's ID when it is valid, else a new one: 128 random bits in hex, as a
    uuid4's hex (without uuid's object, a few µs on every request)."""
    if header is not None and is_valid_request_id(header):
        return header
    return os.urandom(16).hex()


class RequestIdFilter(logging.Filter):
    """Sets `record.request_id` from the context, unless the line brought its own
    (`extra={"request_id": ...}`, as access lines do: they are logged after the request,
    outside its context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, pid, message, request_id
    (null outside a request), exception (the traceback) when there is one, and the
    fields a line brought as `extra={"fields": {...}}` (an access line's method, path,
    status, bytes, duration_ms, ...: service.access_log)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry |= fields
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """The plain line, with `[request <id>]` after the message when there is one."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request {request_id}]" if request_id else line


class BufferedStreamHandler(logging.StreamHandler):
    """A StreamHandler that writes its lines in batches: when `capacity` lines are
    waiting, and at least every `interval` seconds from a thread of its own. For lines
    written on every request (access lines), where a write and a flush each cost more
    than making the line. Batches are cut at line boundaries to at most PIPE_BUF bytes,
    so lines of processes sharing a pipe never interleave. Lines still waiting when a
    process is killed outright are lost (at most `interval` seconds of them)."""

    def __init__(
        self, stream: TextIO | None = None, capacity: int = 256, interval: float = 0.5
    ) -> None:
        super().__init__(stream)
        self.capacity, self.interval = capacity, interval
        self._lines: list[str] = []
        self._flusher_pid: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # Handler.handle holds self.lock around this.
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if len(self._lines) >= self.capacity:
            self._write()
        elif self._flusher_pid != os.getpid():  # none yet in this (perhaps forked) process
            self._flusher_pid = os.getpid()
            threading.Thread(target=self._flush_every, name="log-flusher", daemon=True).start()

    def flush(self) -> None:
        with self.lock:
            self._write()

    def _write(self) -> None:
        lines, self._lines = self._lines, []
        batch: list[str] = []
        size = 0
        for line in lines:
            if batch and size + len(line) + 1 > _PIPE_BUF:
                self._write_batch(batch)
                batch, size = [], 0
            batch.append(line)
            size += len(line) + 1
        if batch:
            self._write_batch(batch)

    def _write_batch(self, batch: list[str]) -> None:
        try:
            self.stream.write("\n".join(batch) + "\n")
            self.stream.flush()
        except Exception:  # a closed or broken stream: as StreamHandler, never raise
            pass

    def _flush_every(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()


# What one write to a pipe keeps whole (POSIX guarantees at least 512; Linux 4096).
_PIPE_BUF = getattr(select, "PIPE_BUF", 512)


def dict_config(log_format: str) -> dict[str, Any]:
    """A logging.config.dictConfig for the API (gunicorn's logconfig_dict) and the
    worker: one stderr handler on the root logger, in `log_format`; gunicorn's error
    logger loses its own handlers and propagates to it, and its access lines go to
    stderr in batches (BufferedStreamHandler), in the same format."""
    if log_format not in FORMATS:
        expected = " or ".join(FORMATS)
        raise ValueError(f"LOG_FORMAT must be {expected}. Received: {log_format!r}")
    formatter = (
        {"()": JsonFormatter} if log_format == "json" else {"()": TextFormatter, "fmt": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            },
            "access": {
                "()": BufferedStreamHandler,
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            },
        },
        "root": {"level": "INFO", "handlers": ["default"]},
        # No level for gunicorn.error: gunicorn's --log-level sets it.
        "loggers": {
            "gunicorn.error": {"handlers": [], "propagate": True},
            ACCESS_LOGGER: {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }
