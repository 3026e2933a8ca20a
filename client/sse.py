"""Server-sent events (text/event-stream) from a stream of bytes, as the WHATWG spec
reads them: pure functions, so the parsing is tested without a server."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One dispatched event: its type (`message` unless named), data and `id:`."""

    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines from byte chunks split anywhere (a line, or even a UTF-8 character, may
    straddle two chunks). Ends of line are CRLF, LF or CR, as the spec allows."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while True:
            cut = _line_end(buffer)
            if cut is None:
                break
            end, size = cut
            # A CR at the very end may be the first half of a CRLF still in transit.
            if size == 1 and buffer[end : end + 1] == b"\r" and end + 1 == len(buffer):
                break
            yield buffer[:end].decode("utf-8", errors="replace")
            buffer = buffer[end + size :]
    if buffer:  # a last line without its end of line (the stream was cut)
        yield buffer.rstrip(b"\r").decode("utf-8", errors="replace")


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    positions = [i for i in (buffer.find(b"\r"), buffer.find(b"\n")) if i >= 0]
    if not positions:
        return None
    end = min(positions)
    return end, 2 if buffer[end : end + 2] == b"\r\n" else 1


def events(stream_lines: Iterable[str]) -> Iterator[Event]:
    """Events from lines: fields accumulate until a blank line dispatches them;
    comments (`: keepalive`) and unknown fields are ignored; an event without data is
    not dispatched, and neither is one cut off before its blank line."""
    name, data, last_id = "", [], None
    for line in stream_lines:
        if not line:
            if data:
                yield Event(name or "message", "\n".join(data), last_id)
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id" and "\0" not in value:
            last_id = value  # the last ID seen stays until another replaces it
