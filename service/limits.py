"""The service's configurable limits, as the validators the schemas use.

A limit is a setting (MAX_EPOCHS, MAX_UNITS, ...). The schemas that load a request
check it with `AtMost` or `MaxItems`, which read the settings in force when they run:
those of the app loading the request (`limits_of(settings)` around the load), or the
defaults. The same validators describe the limit in the OpenAPI document (its
`maximum` or `maxItems`), which is generated under the app's settings, so the document
states the limits the service enforces. Each refusal names the setting and its value,
so the client knows what to change and the operator what to raise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from marshmallow import ValidationError, validate

from service.config import Settings, env_name

DEFAULTS = Settings()
_IN_FORCE: ContextVar[Settings | None] = ContextVar("limits_in_force", default=None)


def in_force() -> Settings:
    """The settings whose limits apply now."""
    return _IN_FORCE.get() or DEFAULTS


@contextmanager
def limits_of(settings: Settings) -> Iterator[None]:
    """Apply `settings`' limits to whatever is loaded or documented inside the block."""
    token = _IN_FORCE.set(settings)
    try:
        yield
    finally:
        _IN_FORCE.reset(token)


def unbounded(settings: Settings) -> Settings:
    """`settings` without the limits a spec can be over (for dry runs, which report
    the limits they break instead of refusing); Keras's int32 sizes still bound it."""
    ceiling = 2**31 - 1
    limits = ("max_layers", "max_units", "max_epochs", "max_data_rows", "job_timeout_s")
    return dataclasses.replace(settings, **dict.fromkeys(limits, ceiling))


def over_limit(value: int, what: str, setting: str) -> str:
    """ "51 epochs asked for; this service accepts at most 50 (MAX_EPOCHS)." """
    limit = getattr(in_force(), setting)
    return (
        f"{value:,} {what} asked for; this service accepts at most {limit:,} ({env_name(setting)})."
    )


class _Bound(validate.Validator):
    """From `minimum` up to the setting `setting`, of whatever `measure` counts. `min`
    and `max` are what the OpenAPI converter reads (as marshmallow's Range and Length
    have them)."""

    def __init__(self, setting: str, what: str, minimum: int = 1) -> None:
        self.setting, self.what, self.min = setting, what, minimum

    @property
    def max(self) -> int:
        return getattr(in_force(), self.setting)

    def measure(self, value: Any) -> int:
        return value

    def __call__(self, value: Any) -> Any:
        amount = self.measure(value)
        if amount < self.min:
            raise ValidationError(
                f"Expected {self.min:,} to {self.max:,} {self.what} "
                f"({env_name(self.setting)}). Received: {amount!r}."
            )
        if amount > self.max:
            raise ValidationError(over_limit(amount, self.what, self.setting))
        return value


class AtMost(_Bound):
    """An integer up to a setting (documented as `maximum`)."""

    min_inclusive = max_inclusive = True


class MaxItems(_Bound):
    """A list of up to a setting's items (documented as `maxItems`)."""

    equal = None

    def measure(self, value: Any) -> int:
        return len(value)
