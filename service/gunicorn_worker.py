"""gunicorn's gthread worker, answering the requests gunicorn refuses itself as problems.

A request line too long (414), too many or too large headers (431) or a malformed
request (400: a control character in a header, say) never reaches the app: gunicorn
answers it with an HTML page of its own, written by `gunicorn.util.write_error`. This
module has that function write RFC 9457 problem+json instead, so every error a client
sees has the one shape. gunicorn calls it from its workers' `handle_error` only, so
replacing it in the worker process changes nothing else.
"""

from __future__ import annotations

import socket

import orjson
from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from service import errors

_BY_STATUS: dict[int, type[errors.ServiceError]] = {
    400: errors.MalformedRequest,
    403: errors.Forbidden,
    414: errors.UriTooLong,
    431: errors.HeadersTooLarge,
}


def write_problem(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """What gunicorn's write_error sends, as problem+json: same status and reason."""
    error_class = _BY_STATUS.get(status)
    if error_class is None:  # 500 (the worker failed), 501 (a transfer coding), others
        error = errors.ServiceError(message or "The server failed to read this request.")
        error.status, error.title = status, reason
    else:
        error = error_class(message or reason)
    body = orjson.dumps(error.to_problem())
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {errors.PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = write_problem


class ProblemWorker(ThreadWorker):
    """gthread, with gunicorn's own error answers written as problems (above)."""
