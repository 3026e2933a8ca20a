"""Optional API keys: `Authorization: Bearer <key>`, each key read-only or full.

With no key configured the service is open (the README says so in bold). Keys come from
API_KEYS and/or the file API_KEYS_FILE, as `key:scope` entries separated by commas or
newlines; `scope` is `read` (predict, summaries, reading jobs) or `full` (also submitting
jobs). Every view declares the scope it needs with `@requires(...)` or `@public`; one
that declares nothing needs `full`, so a route added without thought is closed, not open.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from flask import current_app, request

from service.config import Settings
from service.errors import Forbidden, Unauthorized

READ, FULL, PUBLIC = "read", "full", "public"
SCOPES = (READ, FULL)
MIN_KEY_LENGTH = 16  # shorter keys are guessable; refused at start-up
_COVERS = {READ: {READ}, FULL: {READ, FULL}}

View = TypeVar("View", bound=Callable[..., object])


def requires(scope: str) -> Callable[[View], View]:
    """Mark a view as needing a key of `scope` (READ or FULL) when keys are configured."""

    def mark(view: View) -> View:
        view.required_scope = scope  # type: ignore[attr-defined]
        return view

    return mark


public = requires(PUBLIC)  # health checks and the API description: never need a key


def required_scope(view: Callable[..., object] | None) -> str:
    """The scope a view declared; `full` for one that declared none."""
    return getattr(view, "required_scope", FULL)


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys and their scopes; empty means the service is open."""

    entries: tuple[tuple[bytes, str], ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiKeys:
        text = settings.api_keys
        if settings.api_keys_file:
            text += "\n" + Path(settings.api_keys_file).read_text()
        return cls.parse(text)

    @classmethod
    def parse(cls, text: str) -> ApiKeys:
        """Keys from `key:scope` entries; raises ValueError naming a bad entry (by
        position, never by its text: it may be a secret)."""
        entries = []
        items = [item.strip() for item in text.replace("\n", ",").split(",")]
        for n, item in enumerate((i for i in items if i), start=1):
            key, _, scope = item.rpartition(":")
            if scope not in SCOPES or not key:
                raise ValueError(f"API key entry {n} must be 'key:read' or 'key:full'.")
            if len(key) < MIN_KEY_LENGTH:
                raise ValueError(f"API key entry {n} is shorter than {MIN_KEY_LENGTH} characters.")
            entries.append((key.encode(), scope))
        return cls(tuple(entries))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def check(self, authorization: str, needed: str) -> None:
        """Raise unless the `Authorization` header's key covers the scope `needed`
        (nothing to check while the service is open, or for a public view)."""
        if not self or needed == PUBLIC:
            return
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthorized("This service needs an API key: send 'Authorization: Bearer <key>'.")
        scope = self.scope_of(presented.strip())
        if scope is None:
            raise Unauthorized("The API key is not valid.", error="invalid_token")
        if needed not in _COVERS[scope]:
            raise Forbidden(f"This API key is {scope}-only; this request needs a {needed} key.")

    def scope_of(self, presented: str) -> str | None:
        """The scope of a presented key, or None. Every key is compared, each in
        constant time, so timing reveals neither a key nor which one matched."""
        candidate = presented.encode()
        found = None
        for key, scope in self.entries:
            if hmac.compare_digest(key, candidate):
                found = scope
        return found


def authorize(keys: ApiKeys) -> None:
    """Refuse the current request unless its key covers its view's scope (a
    before_request hook; requests for unknown routes go on to their 404)."""
    if not keys or request.endpoint is None:
        return
    needed = required_scope(current_app.view_functions.get(request.endpoint))
    keys.check(request.headers.get("Authorization", ""), needed)
