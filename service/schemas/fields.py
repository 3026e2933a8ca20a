"""Fields, validators and base schemas shared by every schema of the public JSON.

Numbers are strict JSON numbers (marshmallow would take "3" and true), unknown fields
are refused naming the closest known one, identifiers in paths and bodies are checked
here, and every schema says which problem its failures are (`problem`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from service.errors import InvalidRequest
from service.names import display_problem

# Type-level ceiling for any count (Keras sizes are int32); the service's configurable
# limits are narrower (service.limits).
MAX_SIZE = 2**31 - 1
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Lower-case letters, digits, '.', '_' and '-', starting with a letter; never a UUID
# (job IDs and aliases share the model routes' URL segment).
ALIAS = r"[a-z][a-z0-9._-]{0,62}"
ALIAS_RULE = (
    "1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter, "
    "and not shaped like a job ID"
)
_UUID = re.compile(f"^{UUID}$")
_ALIAS = re.compile(f"^{ALIAS}$")


def is_uuid(value: str) -> bool:
    """Whether `value` is a UUID (any case: job and dataset IDs are read case-blind)."""
    return bool(_UUID.match(value))


def is_alias_name(value: str) -> bool:
    return bool(_ALIAS.match(value)) and not is_uuid(value)


def choice_message(value: object, choices: Iterable[str], what: str) -> str:
    """ "Unknown X 'y'." with the closest valid names, or the list of valid names."""
    choices = list(choices)
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(value).lower(), list(by_lower), n=3, cutoff=0.6)
    if close:
        hint = "Did you mean " + " or ".join(repr(by_lower[c]) for c in close) + "?"
    else:
        hint = "Expected one of: " + ", ".join(choices) + "."
    return f"Unknown {what} {value!r}. {hint}"


class PlainText(validate.Validator):
    """Text shown as a name (in /ui, in lists): no control or bidi formatting characters."""

    def __call__(self, value: str) -> str:
        problem = display_problem(value)
        if problem:
            raise ValidationError(problem)
        return value


class Choice(validate.Validator):
    """Like marshmallow's OneOf (documented as an `enum` the same way), but its message
    names the closest valid choice."""

    def __init__(self, choices: Iterable[Any], what: str) -> None:
        self.choices = tuple(choices)
        self.what = what

    def __call__(self, value: Any) -> Any:
        if value not in self.choices:
            raise ValidationError(choice_message(value, self.choices, self.what))
        return value


class StrictSchema(Schema):
    """Refuses unknown fields, naming the closest known one (a misspelt key is the
    commonest mistake in a hand-written request). `problem` is the error a failed load
    is reported as, with the messages keyed by JSON path."""

    problem: ClassVar[type[InvalidRequest]] = InvalidRequest

    class Meta:
        unknown = RAISE

    def handle_error(self, error: ValidationError, data: Any, **kwargs: Any) -> None:
        # marshmallow says only "Unknown field."; say which field was probably meant.
        if not isinstance(error.messages, dict) or not isinstance(data, Mapping):
            return
        known = [f.data_key or name for name, f in self.load_fields.items()]
        for key in data:
            if key not in known and key in error.messages:
                error.messages[key] = [choice_message(key, known, "field")]


class Lenient(StrictSchema):
    """For query strings, headers and protocols that let servers ignore what they do
    not read: unknown members are left alone, not refused."""

    class Meta(StrictSchema.Meta):
        unknown = EXCLUDE


class Int(fields.Integer):
    """A JSON integer: not a float, a string or a boolean (Python counts True as 1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Number(fields.Float):
    """A finite JSON number: marshmallow would also take "1.5" and true."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Bool(fields.Boolean):
    """A JSON boolean: marshmallow would also take 0, 1, "yes" and "on"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def strict_int(minimum: int, maximum: int = MAX_SIZE, **kwargs: Any) -> Int:
    return Int(validate=validate.Range(minimum, maximum), **kwargs)


class Items(fields.Raw):
    """A non-empty JSON array, kept as sent: its items are read by the code that knows
    their shape (rows of a model's input shape, a table's rows), all at once."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list) or not value:
            raise ValidationError("Expected a non-empty list with one entry per row.")
        return value


class JobId(fields.String):
    """A job's (or an uploaded dataset's) ID: a UUID, read in any case, loaded in lower
    case (the form every store key and URL uses)."""

    def __init__(self, what: str = "job", **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {
            "format": "uuid",
            "pattern": f"^{UUID}$",
            "description": f"A {what}'s ID, a UUID (read in any case).",
            **kwargs["metadata"],
        }
        super().__init__(**kwargs)
        self.what = what

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_uuid(text):
            raise ValidationError(f"Expected a {self.what} ID (a UUID). Received: {text!r}.")
        return text.lower()


class AliasName(fields.String):
    """An alias: a name that points at a finished job."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {
            "pattern": f"^{ALIAS}$",
            "not": {"pattern": f"^{UUID}$"},
            "description": f"An alias: {ALIAS_RULE}.",
            "examples": ["digits-prod"],
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_alias_name(text):
            raise ValidationError(f"An alias name is {ALIAS_RULE}. Received: {text!r}.")
        return text


class ModelRef(fields.String):
    """How a model is named on the model routes (`ref`): its job's ID, or an alias."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {
            "description": (
                "A model: its job's ID (a UUID, read in any case) or an alias that points "
                "at the job."
            ),
            "anyOf": [
                {"type": "string", "format": "uuid", "pattern": f"^{UUID}$"},
                {"type": "string", "pattern": f"^{ALIAS}$"},
            ],
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if is_uuid(text):
            return text.lower()
        if is_alias_name(text):
            return text
        raise ValidationError(f"Expected a job ID (a UUID) or an alias name. Received: {text!r}.")


class Variants(fields.Field):
    """An object that is one of several kinds, each with a schema of its own, told apart
    by its `by` member (documented as a `oneOf` with that discriminator). Loads, for a
    request, to {by: canonical kind, **what that kind's schema loaded}; `names_too` when
    a bare name stands for the object with its defaults, like Keras's own `get()`.
    Dumps, for an answer, as it is: the service built it."""

    def __init__(
        self,
        variants: Mapping[str, Schema],
        what: str,
        aliases: Mapping[str, str] | None = None,
        *,
        by: str = "type",
        names_too: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.variants, self.what, self.by, self.names_too = dict(variants), what, by, names_too
        self.aliases = dict(aliases or {})

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if self.names_too and isinstance(value, str):
            value = {self.by: value}
        if not isinstance(value, dict):
            form = f"a {self.what} name or " if self.names_too else ""
            raise ValidationError(
                f"Expected {form}an object with a '{self.by}'. Received: {value!r}."
            )
        name = value.get(self.by)
        name = self.aliases.get(name, name) if isinstance(name, str) else name
        if not isinstance(name, str) or name not in self.variants:
            names = [*self.variants, *self.aliases]
            raise ValidationError({self.by: [choice_message(value.get(self.by), names, self.what)]})
        return {**self.variants[name].load({**value, self.by: name}), self.by: name}


def flatten_errors(messages: Any, path: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages keyed by JSON path: `model.layers[0].units`."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {path or "$": messages}
    if isinstance(messages, str):
        return {path or "$": [messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key == "_schema":
            child = path
        elif isinstance(key, int):
            child = f"{path}[{key}]"
        else:
            child = f"{path}.{key}" if path else str(key)
        for child_path, child_messages in flatten_errors(value, child).items():
            flat.setdefault(child_path, []).extend(child_messages)
    return flat


def load(schema: Schema, data: Any) -> Any:
    """`schema.load(data)`, or the schema's problem naming each failing field."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise problem_of(schema)(flatten_errors(exc.messages)) from None


def problem_of(schema: Schema) -> type[InvalidRequest]:
    return getattr(schema, "problem", InvalidRequest)
