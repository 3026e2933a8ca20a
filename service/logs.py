"""Log lines as JSON (or text), each carrying the request ID it was logged for.

The ID lives in a context variable: the API sets it for each request
(service.request_ids), the worker for each job from the job's meta (worker.main), and
a filter on the one handler copies it into every record, so any module's plain
`log.info(...)` is tagged without passing the ID around. No Flask here: the worker
and service.jobs use this module too.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

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
    """The client's ID when it is valid, else a new one (uuid4, hex)."""
    if header is not None and is_valid_request_id(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Sets `record.request_id`: the context's, or for gunicorn's access lines (logged
    after the request, outside its context) the X-Request-ID header of the response."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):  # `extra={"request_id": ...}` wins
            access = _access_atoms(record)
            record.request_id = (
                _atom(access, "{x-request-id}o") if access is not None else _request_id.get()
            )
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, pid, message, request_id
    (null outside a request), exception (the traceback) when there is one, and for
    gunicorn's access lines the request's method, path, status, bytes, duration_ms,
    remote_addr and user_agent as fields of their own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        access = _access_atoms(record)
        if access is not None:
            entry |= _access_fields(access)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """The plain line, with `[request <id>]` after the message when there is one."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request {request_id}]" if request_id else line


def dict_config(log_format: str) -> dict[str, Any]:
    """A logging.config.dictConfig for the API (gunicorn's logconfig_dict) and the
    worker: one stderr handler on the root logger, in `log_format`; gunicorn's error
    and access loggers lose their own handlers and propagate to it."""
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
            }
        },
        "root": {"level": "INFO", "handlers": ["default"]},
        # No level for gunicorn.error: gunicorn's --log-level sets it.
        "loggers": {
            "gunicorn.error": {"handlers": [], "propagate": True},
            ACCESS_LOGGER: {"level": "INFO", "handlers": [], "propagate": True},
        },
    }


def _access_atoms(record: logging.LogRecord) -> Mapping[str, Any] | None:
    # gunicorn logs an access line as `access_log_format % atoms`, the atoms (its
    # documented names: h, m, U, s, ...) as the record's one mapping argument.
    if record.name == ACCESS_LOGGER and isinstance(record.args, Mapping):
        return record.args
    return None


def _atom(atoms: Mapping[str, Any], name: str) -> Any:
    value = atoms.get(name)
    if value in (None, "-"):
        return None
    # gunicorn escapes double quotes for its quoted Apache format; JSON quotes its own.
    return value.replace('\\"', '"') if isinstance(value, str) else value


def _access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    status, micros = _atom(atoms, "s"), _atom(atoms, "D")
    return {
        "method": _atom(atoms, "m"),
        "path": _atom(atoms, "U"),
        "query": _atom(atoms, "q") or None,
        "status": int(status) if status is not None else None,
        "bytes": _atom(atoms, "B"),
        "duration_ms": round(micros / 1000, 3) if micros is not None else None,
        "remote_addr": _atom(atoms, "h"),
        "user_agent": _atom(atoms, "a"),
    }
