"""Marshmallow schemas of the public JSON: the training spec and the predict request.

Loading a spec checks its form and every name against `service.ml.catalog`, fills in the
defaults, and returns a plain JSON-able dict (the "normalized spec") that the worker gets
as it is. Whether the spec fits its data (shapes, labels) is checked afterwards by
`service.ml.preflight`, which needs the data and Keras.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from service.errors import InvalidSpec
from service.ml.artifacts import JOB_ID
from service.ml.catalog import (
    ACTIVATIONS,
    DATASETS,
    INITIALIZERS,
    LAYERS,
    LOSS_ALIASES,
    LOSSES,
    METRICS,
    OPTIMIZERS,
    Arg,
)

# Type-level ceiling for any count in a spec (Keras sizes are int32). The service's own,
# configurable limits (layers, units, epochs, rows) are checked after loading, in
# service.limits, so that they can name the setting that refused the spec.
MAX_SIZE = 2**31 - 1
# A spec's `queue`; workers serve them in this order (RQ takes from the first non-empty).
PRIORITIES = ("high", "default", "low")


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


class Choice(validate.Validator):
    """Like marshmallow's OneOf, but its message names the closest valid choice."""

    def __init__(self, choices: Iterable[str], what: str) -> None:
        self.choices = tuple(choices)
        self.what = what

    def __call__(self, value: str) -> str:
        if value not in self.choices:
            raise ValidationError(choice_message(value, self.choices, self.what))
        return value


class StrictSchema(Schema):
    """Rejects unknown fields, naming the closest known one (a misspelt key is the
    commonest mistake in a hand-written spec)."""

    def handle_error(self, error: ValidationError, data: Any, **kwargs: Any) -> None:
        # marshmallow says only "Unknown field."; say which field was probably meant.
        if not isinstance(error.messages, dict) or not isinstance(data, Mapping):
            return
        known = [f.data_key or name for name, f in self.load_fields.items()]
        for key in data:
            if key not in known and key in error.messages:
                error.messages[key] = [choice_message(key, known, "field")]


class IntOrTuple(fields.Field):
    """A positive integer or a list of one to three (Keras's kernel_size, strides...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        items = value if isinstance(value, list) and 1 <= len(value) <= 3 else [value]
        if not all(_is_int(v) and 1 <= v <= MAX_SIZE for v in items):
            raise ValidationError(f"Expected a {Arg.INT_OR_TUPLE.value}. Received: {value!r}.")
        return value


class Axis(fields.Field):
    """An axis index or a list of them."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        if not items or not all(_is_int(v) for v in items):
            raise ValidationError(f"Expected an {Arg.AXIS.value}. Received: {value!r}.")
        return value


class TargetShape(fields.Field):
    """Reshape's target: positive sizes, at most one of them -1 (inferred)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        ok = (
            isinstance(value, list)
            and 1 <= len(value) <= 4
            and all(_is_int(v) and (v >= 1 or v == -1) for v in value)
            and value.count(-1) <= 1
        )
        if not ok:
            raise ValidationError(f"Expected a {Arg.TARGET_SHAPE.value}. Received: {value!r}.")
        return value


class Int(fields.Integer):
    """A JSON integer: not a float, a string or a boolean (Python counts True as 1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Number(fields.Float):
    """A JSON number: marshmallow would also take "1.5" and true."""

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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strict_int(minimum: int, maximum: int = MAX_SIZE, **kwargs: Any) -> Int:
    return Int(validate=validate.Range(minimum, maximum), **kwargs)


def arg_field(arg: Arg, required: bool = False) -> fields.Field:
    """The marshmallow field that validates one catalog argument kind."""
    factories = {
        Arg.POSITIVE_INT: lambda: _strict_int(1),
        Arg.NON_NEGATIVE_INT: lambda: _strict_int(0),
        Arg.INT: Int,
        Arg.FLOAT: Number,
        Arg.POSITIVE_FLOAT: lambda: Number(validate=validate.Range(0, None, min_inclusive=False)),
        Arg.FRACTION: lambda: Number(validate=validate.Range(0, 1, max_inclusive=False)),
        Arg.BOOL: Bool,
        Arg.ACTIVATION: lambda: fields.String(validate=Choice(ACTIVATIONS, "activation")),
        Arg.INITIALIZER: lambda: fields.String(validate=Choice(INITIALIZERS, "initializer")),
        Arg.PADDING: lambda: fields.String(validate=Choice(("valid", "same"), "padding")),
        Arg.CONV1D_PADDING: lambda: fields.String(
            validate=Choice(("valid", "same", "causal"), "padding")
        ),
        Arg.INT_OR_TUPLE: IntOrTuple,
        Arg.TARGET_SHAPE: TargetShape,
        Arg.AXIS: Axis,
    }
    field = factories[arg]()
    field.required = required
    return field


def args_schema(
    name: str,
    args: Mapping[str, Arg],
    required: Iterable[str] = (),
    extra: Mapping[str, fields.Field] | None = None,
) -> Schema:
    """A schema for {"type": name, **arguments} generated from a catalog entry."""
    declared: dict[str, fields.Field] = {"type": fields.String(required=True), **(extra or {})}
    declared |= {k: arg_field(arg, required=k in required) for k, arg in args.items()}
    return type(f"{name}Schema", (StrictSchema,), declared)()


class NamedObject(fields.Field):
    """A Keras object named by a string or by {"type": name, **arguments}, like Keras's
    own `get()`; loads to {"type": canonical name, **arguments}."""

    def __init__(
        self,
        table: Mapping[str, Any],
        what: str,
        aliases: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.what = what
        self.aliases = dict(aliases or {})
        self.schemas = {name: args_schema(name, entry.args) for name, entry in table.items()}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise ValidationError(
                f"Expected a {self.what} name or an object with a 'type'. Received: {value!r}."
            )
        name = self.aliases.get(value["type"], value["type"])
        if name not in self.schemas:
            names = [*self.schemas, *self.aliases]
            raise ValidationError({"type": [choice_message(value["type"], names, self.what)]})
        return {**self.schemas[name].load(value), "type": name}


def _layer_name() -> fields.String:
    # Layers may carry a Keras-style name; the builder names the others as Keras does.
    return fields.String(validate=validate.Regexp(r"^[A-Za-z][A-Za-z0-9_]{0,63}$"))


LAYER_SCHEMAS = {
    name: args_schema(name, entry.args, entry.required, {"name": _layer_name()})
    for name, entry in LAYERS.items()
}


class LayerField(fields.Field):
    """One layer: {"type": a catalog layer, **its keyword arguments}."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError(f"Expected a layer object with a 'type'. Received: {value!r}.")
        type_name = value.get("type")
        if type_name not in LAYER_SCHEMAS:
            raise ValidationError({"type": [choice_message(type_name, LAYERS, "layer type")]})
        return LAYER_SCHEMAS[type_name].load(value)


class ModelSchema(StrictSchema):
    input_shape = fields.List(_strict_int(1), required=True, validate=validate.Length(1, 4))
    layers = fields.List(LayerField(), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _layer_names_unique(self, data: dict[str, Any], **kwargs: Any) -> None:
        names = [layer["name"] for layer in data.get("layers", []) if "name" in layer]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValidationError(f"Layer names must be unique. Repeated: {repeated}.", "layers")


class CompileSchema(StrictSchema):
    optimizer = NamedObject(OPTIMIZERS, "optimizer", load_default=lambda: {"type": "adam"})
    loss = NamedObject(LOSSES, "loss", LOSS_ALIASES, required=True)
    metrics = fields.List(fields.String(validate=Choice(METRICS, "metric")), load_default=list)

    @validates_schema
    def _one_clipping(self, data: dict[str, Any], **kwargs: Any) -> None:
        clip_args = ("clipnorm", "clipvalue", "global_clipnorm")
        clipping = [k for k in clip_args if k in data["optimizer"]]
        if len(clipping) > 1:
            message = f"Keras takes one gradient clipping argument. Received: {clipping}."
            raise ValidationError({"optimizer": [message]})


class EarlyStoppingSchema(StrictSchema):
    monitor = fields.String(load_default="val_loss")
    patience = _strict_int(0, load_default=0)
    min_delta = Number(validate=validate.Range(0, None), load_default=0.0)
    mode = fields.String(validate=Choice(("auto", "min", "max"), "mode"), load_default="auto")
    restore_best_weights = Bool(load_default=False)
    start_from_epoch = _strict_int(0, load_default=0)


class FitSchema(StrictSchema):
    epochs = _strict_int(1, load_default=10)
    batch_size = _strict_int(1, 1 << 16, load_default=32)
    validation_split = Number(validate=validate.Range(0, 1, max_inclusive=False), load_default=0.0)
    shuffle = Bool(load_default=True)
    seed = _strict_int(0, 2**31 - 1, load_default=0)
    # Wall-clock budget of the fit; the server's JOB_TIMEOUT is the default and maximum.
    max_seconds = _strict_int(1, load_default=None)
    early_stopping = fields.Nested(EarlyStoppingSchema, allow_none=True, load_default=None)


def _non_empty_list(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Expected a non-empty list (one entry per row).")


class ArraysSchema(StrictSchema):
    """Inline rows: `x` (one entry per row, each of the model's input shape) and `y`."""

    x = fields.Raw(required=True, validate=_non_empty_list)
    y = fields.Raw(required=True, validate=_non_empty_list)


class DataSchema(StrictSchema):
    dataset = fields.String(validate=Choice(DATASETS, "dataset"))
    n_samples = _strict_int(10)
    x = fields.Raw(validate=_non_empty_list)
    y = fields.Raw(validate=_non_empty_list)
    validation = fields.Nested(ArraysSchema)
    test = fields.Nested(ArraysSchema)
    test_fraction = Number(validate=validate.Range(0, 1, max_inclusive=False), load_default=0.2)
    # An uploaded dataset (POST /v1/datasets) and its column to predict; the other
    # columns are the features.
    dataset_id = fields.String(
        validate=validate.Regexp(
            JOB_ID, error="Expected a dataset ID (a UUID). Received: {input!r}."
        )
    )
    target = fields.String(validate=validate.Length(1, 100))

    @validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if sum(key in data for key in ("dataset", "x", "dataset_id")) != 1:
            raise ValidationError(
                "Give one of: a built-in 'dataset', inline 'x' and 'y', or an uploaded "
                "'dataset_id' with its 'target'."
            )
        if "x" in data and "y" not in data:
            raise ValidationError("Inline data needs 'y' (the targets) beside 'x'.", "y")
        for key in ("y", "validation", "test"):
            if key in data and "x" not in data:
                raise ValidationError(f"'{key}' goes with inline 'x', not with a dataset.", key)
        if "dataset_id" in data and "target" not in data:
            raise ValidationError(
                "An uploaded dataset needs 'target', the column to predict.", "target"
            )
        if "target" in data and "dataset_id" not in data:
            raise ValidationError("'target' goes with an uploaded 'dataset_id'.", "target")
        if "n_samples" in data and data.get("dataset") != "sum_of_two":
            raise ValidationError(
                "Only the synthetic 'sum_of_two' dataset takes n_samples.", "n_samples"
            )


class TrainingSpecSchema(StrictSchema):
    name = fields.String(validate=validate.Length(1, 100), load_default=None)
    model = fields.Nested(ModelSchema, required=True)
    compile = fields.Nested(CompileSchema, required=True)
    fit = fields.Nested(FitSchema)
    data = fields.Nested(DataSchema, required=True)
    queue = fields.String(validate=Choice(PRIORITIES, "queue"), load_default="default")

    @pre_load
    def _default_fit(self, data: Any, **kwargs: Any) -> Any:
        # An absent `fit` still gets its defaults (marshmallow does not load defaults).
        if isinstance(data, dict) and "fit" not in data:
            data = {**data, "fit": {}}
        return data

    @validates_schema
    def _monitor_is_logged(self, data: dict[str, Any], **kwargs: Any) -> None:
        stopping = data.get("fit", {}).get("early_stopping")
        if not stopping or "compile" not in data:
            return
        logged = ["loss", *data["compile"]["metrics"]]
        if has_validation(data):
            logged += [f"val_{name}" for name in logged]
        if stopping["monitor"] not in logged:
            message = choice_message(stopping["monitor"], logged, "monitored quantity")
            if stopping["monitor"].startswith("val_") and not has_validation(data):
                message += " Validation quantities need fit.validation_split or data.validation."
            raise ValidationError({"fit": {"early_stopping": {"monitor": [message]}}})


def has_validation(spec: Mapping[str, Any]) -> bool:
    """Whether training will log validation loss and metrics."""
    return spec["fit"]["validation_split"] > 0 or "validation" in spec.get("data", {})


def load_spec(body: dict[str, Any]) -> dict[str, Any]:
    """A normalized training spec from a request body, or InvalidSpec naming each field."""
    return _load(TrainingSpecSchema(), body)


def load_model_spec(body: dict[str, Any]) -> dict[str, Any]:
    """A spec for a dry run: only `model` is needed; whatever else is given is checked."""
    return _load(TrainingSpecSchema(partial=("compile", "data")), body)


def _load(schema: Schema, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise InvalidSpec(flatten_errors(exc.messages)) from None


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
