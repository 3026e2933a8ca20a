"""Request helpers shared by the blueprints."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response

from service.context import services


def secure_pages(blueprint: Blueprint, img_src: str = "'self'") -> None:
    """Strict headers on a blueprint's HTML pages and assets: only this app's scripts,
    styles and API, no inline script, no framing (clickjacking), no MIME sniffing."""
    headers = {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {img_src}; "
            "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    @blueprint.after_request
    def _secure(response: Response) -> Response:
        response.headers.update(headers)
        return response


def resolve(ref: str) -> str:
    """The job a model reference names (the `ref` converter has matched it): its job ID,
    or the job an alias points at."""
    return services().resolve(ref)


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One server-sent event."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {orjson.dumps(data).decode()}")
    return "\n".join(lines) + "\n\n"


EVENT_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
