"""JSON request bodies, parsed once, by orjson, within a nesting limit.

orjson refuses what is not JSON (NaN and Infinity literals, invalid UTF-8, trailing
data) and stops at 1,024 levels of nesting; we allow MAX_DEPTH, far more than any
request needs, so that no body can make a recursive encoder or validator (marshmallow's,
an error message's repr) run out of stack. JSON also allows an object to repeat a key,
where the last one silently wins; we refuse that too, naming the key, since a client
that sends two values for one field meant one of them.

Both checks are nearly free for ordinary bodies: a body with fewer brackets than
MAX_DEPTH cannot nest deeper, and one whose objects hold as many members as the body
has colons outside strings repeats no key.
"""

from __future__ import annotations

import heapq
import json
import re
from typing import Any

import numpy as np
import orjson

from service.errors import MalformedRequest

MAX_DEPTH = 64
# A JSON string: the body has been parsed, so every string in it is well formed.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPENERS, _CLOSERS = (ord("["), ord("{")), (ord("]"), ord("}"))


def parse_json(raw: bytes) -> Any:
    """The JSON value of a request body, or MalformedRequest (400) saying why not."""
    if not raw:
        raise MalformedRequest("The request body is empty; expected JSON.")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            raise _too_deep() from None
        raise MalformedRequest(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(value, dict | list):
        return value
    structure = _STRING.sub(b'""', raw) if b'"' in raw else raw
    if _depth(structure) > MAX_DEPTH:
        raise _too_deep()
    members = structure.count(b":")
    if members > 1 and _members(value, structure.count(b"{")) < members:
        raise MalformedRequest(
            f"The request body repeats the key {_repeated_key(raw)!r} in an object."
        )
    return value


def _too_deep() -> MalformedRequest:
    return MalformedRequest(
        f"The request body nests arrays and objects more than {MAX_DEPTH} levels deep."
    )


def _depth(structure: bytes) -> int:
    """How deep the brackets of `structure` (a JSON text without its strings) nest."""
    if sum(structure.count(bytes([c])) for c in _OPENERS) <= MAX_DEPTH:
        return 0  # too few to nest deeper than the limit
    codes = np.frombuffer(structure, np.uint8)
    brackets = codes[np.isin(codes, (*_OPENERS, *_CLOSERS))]
    steps = np.where(np.isin(brackets, _OPENERS), 1, -1)
    return int(np.cumsum(steps).max())


def _members(value: Any, objects: int) -> int:
    """How many members the objects of a parsed body hold (a repeated key counts once).

    Visits smaller containers first and stops once it has found every one of the body's
    `objects`, so the long arrays of numbers most bodies carry are never walked."""
    found, count = 0, 0
    pending: list[tuple[int, int, Any]] = [(0, 0, value)]
    order = 1
    while pending and found < objects:
        _, _, container = heapq.heappop(pending)
        if isinstance(container, dict):
            found += 1
            count += len(container)
            children = container.values()
        else:
            children = container
        for child in children:
            if isinstance(child, dict | list):
                heapq.heappush(pending, (len(child), order, child))
                order += 1
    return count


def _repeated_key(raw: bytes) -> str:
    """The first key some object of the body repeats (read again to find it: only a
    body about to be refused gets here, and its depth is already known to be small)."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        repeated.extend(key for i, key in enumerate(keys) if key in keys[:i])
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    return repeated[0] if repeated else "?"
