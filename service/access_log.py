"""gunicorn's access lines, made cheap enough to keep on every request.

gunicorn's own Logger.access builds a dict of every request header, response header
and WSGI environ entry (its `access_log_format` atoms) for each line, and the line is
then written and flushed alone: together about a fifth of a one-row prediction's
server time (issue 14's profile). This logger takes only the fields it writes, and its
lines are written in batches (service.logs.BufferedStreamHandler). gunicorn's
`access_log_format` setting is therefore not used.
"""

from __future__ import annotations

import traceback
from datetime import timedelta
from typing import Any

from gunicorn import glogging

from service.request_ids import HEADER

_REQUEST_ID = HEADER.lower()


class AccessLogger(glogging.Logger):
    """gunicorn's Logger with a lean access line: the message `REMOTE "METHOD PATH"
    STATUS BYTES`, and as fields of their own method, path, query, status, bytes,
    duration_ms, remote_addr, user_agent and the response's request_id."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        request_id = None
        for name, value in resp.headers:
            if name.lower() == _REQUEST_ID:
                request_id = value
                break
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        remote = environ.get("REMOTE_ADDR")
        micros = request_time.seconds * 1_000_000 + request_time.microseconds
        fields = {
            "method": method,
            "path": path,
            "query": environ.get("QUERY_STRING") or None,
            "status": resp.status_code,
            "bytes": resp.sent,
            "duration_ms": round(micros / 1000, 3),
            "remote_addr": remote,
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        try:
            self.access_log.info(
                '%s "%s %s" %s %s',
                remote,
                method,
                path,
                resp.status_code,
                resp.sent,
                extra={"fields": fields, "request_id": request_id},
            )
        except Exception:
            self.error(traceback.format_exc())
