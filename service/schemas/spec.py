"""The training spec: what to train and how (`POST /v1/jobs`, `POST /v1/summary`).

Loading a spec checks its form, every name against `service.ml.catalog` and the
configurable limits in force (`service.limits`), fills in every default the server
decides (`fit.max_seconds` included), and returns a plain JSON-able dict: the
"normalized spec" that the worker trains as it is. Whether the spec fits its data
(shapes, labels) is checked afterwards by `service.ml.preflight`, which needs the data
and Keras.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from service.config import Settings
from service.errors import InvalidSpec
from service.limits import AtMost, MaxItems, in_force, limits_of, over_limit
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
from service.notify import EVENTS as NOTIFY_EVENTS
from service.notify import allowed_hosts, refusal
from service.schemas.fields import (
    MAX_SIZE,
    Bool,
    Choice,
    Int,
    Items,
    JobId,
    ModelRef,
    Number,
    PlainText,
    StrictSchema,
    Variants,
    choice_message,
    is_int,
    load,
    strict_int,
)
from service.store.jobs import PRIORITIES

# Layer arguments that size a layer's weights: the ones MAX_UNITS bounds.
SIZE_ARGS = ("units", "filters", "input_dim", "output_dim")


class IntOrTuple(fields.Field):
    """A positive integer or a list of one to three (Keras's kernel_size, strides...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        items = value if isinstance(value, list) and 1 <= len(value) <= 3 else [value]
        if not all(is_int(v) and 1 <= v <= MAX_SIZE for v in items):
            raise ValidationError(f"Expected a {Arg.INT_OR_TUPLE.value}. Received: {value!r}.")
        return value


class Axis(fields.Field):
    """An axis index or a list of them."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        if not items or not all(is_int(v) for v in items):
            raise ValidationError(f"Expected an {Arg.AXIS.value}. Received: {value!r}.")
        return value


class TargetShape(fields.Field):
    """Reshape's target: positive sizes, at most one of them -1 (inferred)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        ok = (
            isinstance(value, list)
            and 1 <= len(value) <= 4
            and all(is_int(v) and (v >= 1 or v == -1) for v in value)
            and value.count(-1) <= 1
        )
        if not ok:
            raise ValidationError(f"Expected a {Arg.TARGET_SHAPE.value}. Received: {value!r}.")
        return value


_INT_ITEMS = {"type": "integer", "minimum": 1, "maximum": MAX_SIZE}
# How the argument kinds without a plain marshmallow equivalent are documented.
_ARG_SCHEMAS: dict[Arg, dict[str, Any]] = {
    Arg.INT_OR_TUPLE: {
        "oneOf": [_INT_ITEMS, {"type": "array", "minItems": 1, "maxItems": 3, "items": _INT_ITEMS}]
    },
    Arg.AXIS: {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]},
    Arg.TARGET_SHAPE: {
        "type": "array",
        "minItems": 1,
        "maxItems": 4,
        "items": {"type": "integer", "minimum": -1, "not": {"const": 0}},
    },
}


def arg_field(name: str, arg: Arg, required: bool = False) -> fields.Field:
    """The marshmallow field that validates the catalog argument `name` of kind `arg`."""
    if name in SIZE_ARGS:  # bounded by MAX_UNITS, not only by its kind
        field: fields.Field = Int(validate=AtMost("max_units", name))
    else:
        field = _kind_field(arg)
    field.required = required
    field.metadata = {"description": f"A {arg.value}.", **_ARG_SCHEMAS.get(arg, {})}
    return field


def _kind_field(arg: Arg) -> fields.Field:
    factories = {
        Arg.POSITIVE_INT: lambda: strict_int(1),
        Arg.NON_NEGATIVE_INT: lambda: strict_int(0),
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
    return factories[arg]()


def args_schema(
    name: str,
    kind: str,
    args: Mapping[str, Arg],
    required: Iterable[str] = (),
    extra: Mapping[str, fields.Field] | None = None,
    keras_name: str | None = None,
) -> Schema:
    """A schema for {"type": name, **arguments} generated from a catalog entry; `kind`
    names it in the API description (`DenseLayer`, `AdamOptimizer`)."""
    type_field = fields.String(required=True, metadata={"const": name})
    declared: dict[str, Any] = {"type": type_field, **(extra or {})}
    declared |= {k: arg_field(k, arg, required=k in required) for k, arg in args.items()}
    described = f"`keras.{kind.lower()}s.{keras_name or name}`."
    declared["Meta"] = type("Meta", (StrictSchema.Meta,), {"title": name, "description": described})
    schema_class = type(f"{keras_name or name}{kind}Schema", (StrictSchema,), declared)
    return schema_class()


def _layer_name() -> fields.String:
    # Layers may carry a Keras-style name; the builder names the others as Keras does.
    return fields.String(
        validate=validate.Regexp(r"^[A-Za-z][A-Za-z0-9_]{0,63}$"),
        metadata={"description": "The layer's name, unique within the model."},
    )


LAYER_SCHEMAS = {
    name: args_schema(name, "Layer", entry.args, entry.required, {"name": _layer_name()})
    for name, entry in LAYERS.items()
}
OPTIMIZER_SCHEMAS = {
    name: args_schema(name, "Optimizer", entry.args, keras_name=entry.keras_class)
    for name, entry in OPTIMIZERS.items()
}
LOSS_SCHEMAS = {
    name: args_schema(name, "Loss", entry.args, keras_name=entry.keras_class)
    for name, entry in LOSSES.items()
}


class ModelSpecSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = "A Keras Sequential model."

    input_shape = fields.List(
        strict_int(1),
        required=True,
        validate=validate.Length(1, 4),
        metadata={
            "description": (
                "The shape of one input row, without the batch dimension; must match the "
                "rows of the data."
            ),
            "examples": [[64]],
        },
    )
    layers = fields.List(
        Variants(LAYER_SCHEMAS, "layer type"),
        required=True,
        validate=MaxItems("max_layers", "layers"),
        metadata={
            "description": (
                "The layers, in order: each a Keras layer class from the allow-list (`type`) "
                "and its keyword arguments (only those listed for the type; unset ones take "
                "Keras's defaults). Layer `name`s, where given, must be unique."
            )
        },
    )

    @validates_schema
    def _layer_names_unique(self, data: dict[str, Any], **kwargs: Any) -> None:
        names = [layer["name"] for layer in data.get("layers", []) if "name" in layer]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValidationError(f"Layer names must be unique. Repeated: {repeated}.", "layers")


class CompileSpecSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = "How to compile the model: optimizer, loss and metrics."

    optimizer = Variants(
        OPTIMIZER_SCHEMAS,
        "optimizer",
        names_too=True,
        load_default=lambda: {"type": "adam"},
        metadata={
            "description": (
                "A Keras optimizer: its name (with Keras's default arguments), or an object "
                "with its `type` and arguments."
            ),
            "default": "adam",
        },
    )
    loss = Variants(
        LOSS_SCHEMAS,
        "loss",
        LOSS_ALIASES,
        names_too=True,
        required=True,
        metadata={
            "description": (
                "A Keras loss: its name (or one of Keras's short aliases `mse`, `mae`, "
                "`mape`, `msle`), or an object with its `type` and arguments."
            )
        },
    )
    metrics = fields.List(
        fields.String(validate=Choice(METRICS, "metric")),
        load_default=list,
        metadata={
            "description": (
                "Metrics to log each epoch and evaluate on the test split, by the names "
                "Keras accepts in `compile()` (history entries are named after them)."
            ),
            "default": [],
        },
    )

    @validates_schema
    def _one_clipping(self, data: dict[str, Any], **kwargs: Any) -> None:
        clip_args = ("clipnorm", "clipvalue", "global_clipnorm")
        clipping = [k for k in clip_args if k in data["optimizer"]]
        if len(clipping) > 1:
            message = f"Keras takes one gradient clipping argument. Received: {clipping}."
            raise ValidationError({"optimizer": [message]})


class EarlyStoppingSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = "Keras's EarlyStopping callback."

    monitor = fields.String(
        load_default="val_loss",
        metadata={
            "description": (
                "A quantity training logs: `loss` or one of `compile.metrics`, or their "
                "`val_` forms when there is validation data (`fit.validation_split` > 0 "
                "or `data.validation`)."
            )
        },
    )
    patience = strict_int(0, load_default=0)
    min_delta = Number(validate=validate.Range(0, None), load_default=0.0)
    mode = fields.String(validate=Choice(("auto", "min", "max"), "mode"), load_default="auto")
    restore_best_weights = Bool(load_default=False)
    start_from_epoch = strict_int(0, load_default=0)


class FitSpecSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = "How to fit the model. Absent, every field takes its default."

    epochs = Int(validate=AtMost("max_epochs", "epochs"), load_default=10)
    batch_size = strict_int(1, 1 << 16, load_default=32)
    validation_split = Number(
        validate=validate.Range(0, 1, max_inclusive=False),
        load_default=0.0,
        metadata={
            "description": (
                "Fraction of the training rows Keras holds out for validation (ignored "
                "when `data.validation` is given)."
            )
        },
    )
    shuffle = Bool(load_default=True)
    seed = strict_int(
        0,
        load_default=0,
        metadata={
            "description": (
                "Seeds weights, dropout, shuffling and the data splits (same seed, same splits)."
            )
        },
    )
    max_seconds = Int(
        validate=AtMost("job_timeout_s", "seconds"),
        load_default=lambda: in_force().job_timeout_s,
        metadata={
            "description": (
                "The fit's wall-clock budget in seconds; absent, the server's JOB_TIMEOUT, "
                "which is also the most it accepts. A fit over it stops after its current "
                "batch and the job fails with `/problems/training-timed-out`."
            )
        },
    )
    early_stopping = fields.Nested(EarlyStoppingSchema, allow_none=True, load_default=None)
    checkpoint_every = strict_int(
        0,
        MAX_SIZE,
        load_default=1,
        metadata={
            "description": (
                "Write a checkpoint (weights, optimizer state, early stopping's state, "
                "history) every this many epochs, so a job whose worker dies resumes after "
                "the last one on the next worker (at most JOB_RETRIES times); 0: none. "
                "Checkpoints are deleted when the job ends."
            )
        },
    )


_NUMERIC_ARRAY = {
    "type": "array",
    "minItems": 1,
    "items": {"type": ["number", "array"]},
}


def _rows(description: str, required: bool = False) -> Items:
    return Items(required=required, metadata={"description": description, **_NUMERIC_ARRAY})


_X = (
    "Input rows, one per example, each of `model.input_shape`; finite numbers within "
    "float32's range only."
)
_Y = (
    "Targets, one per row of `x`, as the loss expects them: class indices, one-hot rows, "
    "0/1 labels, or numbers."
)


class InlineSplitSchema(StrictSchema):
    """Inline rows: `x` (one entry per row, each of the model's input shape) and `y`."""

    x = _rows(_X, required=True)
    y = _rows(_Y, required=True)


class DataSpecSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = (
            "The training data: exactly one of a built-in `dataset`, inline rows `x` and "
            "targets `y`, or an uploaded dataset's `dataset_id` (from `POST /v1/datasets`) "
            "with its `target` column; `target` goes only with `dataset_id`, `y`, "
            "`validation` and `test` only with `x`. Rows of every split together count "
            "towards MAX_DATA_ROWS. A `test_fraction` of the rows (stratified by label "
            "for classification losses) is held out to evaluate the trained model."
        )

    dataset = fields.String(
        validate=Choice(DATASETS, "dataset"),
        metadata={
            "description": "A built-in dataset: "
            + "; ".join(f"`{k}`: {v}" for k, v in DATASETS.items())
        },
    )
    n_samples = Int(
        validate=AtMost("max_data_rows", "rows of data", minimum=10),
        metadata={"description": "Rows to generate; only for `sum_of_two` (default 1,000)."},
    )
    x = _rows(_X)
    y = _rows(_Y)
    validation = fields.Nested(
        InlineSplitSchema,
        metadata={"description": "Validation rows (instead of `fit.validation_split`)."},
    )
    test = fields.Nested(
        InlineSplitSchema,
        metadata={"description": "Test rows (instead of holding out `test_fraction`)."},
    )
    test_fraction = Number(
        validate=validate.Range(0, 1, max_inclusive=False),
        load_default=0.2,
        metadata={
            "description": (
                "Fraction of the rows held out as the test split (0: none, and metrics are "
                "computed on the training rows). Ignored when `data.test` is given."
            )
        },
    )
    dataset_id = JobId(
        "dataset",
        metadata={
            "description": (
                "An uploaded dataset (`POST /v1/datasets`): the `target` column is the "
                "labels, every other column a feature, in the table's order."
            )
        },
    )
    target = fields.String(
        validate=[validate.Length(1, 100), PlainText()],
        metadata={"description": "The uploaded dataset's column to predict."},
    )

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

    @validates_schema
    def _inline_rows_within_limit(self, data: dict[str, Any], **kwargs: Any) -> None:
        rows = sum(len(part["x"]) for part in (data, *inline_splits(data)) if "x" in part)
        if rows > in_force().max_data_rows:
            raise ValidationError(over_limit(rows, "rows of data", "max_data_rows"))


def inline_splits(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The inline validation and test splits a data spec gives."""
    return [data[key] for key in ("validation", "test") if key in data]


class LayerSelection(fields.Field):
    """`"all"`, or a list of layer names."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value == "all":
            return value
        if not isinstance(value, list) or not value:
            raise ValidationError('Expected "all" or a non-empty list of layer names.')
        return [_layer_name().deserialize(name) for name in value]


class InitFromSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = (
            "Start from a finished job's weights instead of the initializers: to train on "
            "more data or for more epochs, or to fine-tune with a new head."
        )

    job_id = ModelRef(
        required=True,
        metadata={"description": "The finished job (or an alias of it) whose weights to take."},
    )
    layers = LayerSelection(
        load_default="all",
        metadata={
            "oneOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}}],
            "description": (
                "`all`: every layer of the new model that the source has by name with the "
                "same weight shapes; or the layers to take, each of which the source must "
                "have in the same shapes."
            ),
        },
    )
    freeze = fields.List(
        _layer_name(),
        load_default=list,
        metadata={"description": "Layers of the new model not to train."},
    )


class NotifyURL(validate.Validator):
    """A webhook URL the settings in force allow (service.notify), and a secret to sign
    its deliveries with."""

    def __call__(self, value: str) -> str:
        settings = in_force()
        if not settings.webhook_secret:
            raise ValidationError(
                "This service has no WEBHOOK_SECRET to sign deliveries with: notify is off."
            )
        why = refusal(value, allowed_hosts(settings.webhook_allowed_hosts))
        if why:
            raise ValidationError(why)
        return value


class NotifySchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = (
            "A webhook: when the job ends with one of `events`, the service POSTs the job "
            "to `url`, signed (`X-Signature`), retrying with backoff for about an hour."
        )

    url = fields.String(required=True, validate=[validate.Length(1, 2000), NotifyURL()])
    events = fields.List(
        fields.String(validate=Choice(NOTIFY_EVENTS, "event")),
        validate=validate.Length(min=1),
        load_default=lambda: ["finished", "failed", "canceled"],
    )


class TrainingSpecSchema(StrictSchema):
    problem = InvalidSpec

    class Meta(StrictSchema.Meta):
        description = (
            "What to train and how. Unknown fields are refused (with the closest known "
            "name), every name is checked against the service's allow-lists and every "
            "size against its limits, and defaults are filled in before the job is queued."
        )

    name = fields.String(
        validate=[validate.Length(1, 100), PlainText()],
        load_default=None,
        metadata={"description": "A name for the job (reported as the job's `name`)."},
    )
    model = fields.Nested(ModelSpecSchema, required=True)
    compile = fields.Nested(CompileSpecSchema, required=True)
    fit = fields.Nested(FitSpecSchema)
    data = fields.Nested(DataSpecSchema, required=True)
    init_from = fields.Nested(InitFromSchema, allow_none=True, load_default=None)
    notify = fields.Nested(NotifySchema, allow_none=True, load_default=None)
    queue = fields.String(
        validate=Choice(PRIORITIES, "queue"),
        load_default="default",
        metadata={
            "description": (
                "The queue the job waits on: every worker takes the next job from the "
                "highest-priority non-empty queue, `high` first, then `default`, then `low`."
            )
        },
    )

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


class DryRunSpecSchema(TrainingSpecSchema):
    # Loaded without the service's limits: the dry run reports those it is over.
    reports_limits = True

    class Meta(TrainingSpecSchema.Meta):
        description = (
            "A training spec for `POST /v1/summary`: only `model` is required; the other "
            "fields are validated when given. The service's limits are reported in the "
            "answer (`over_limits`), not refused."
        )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=("compile", "data"), **kwargs)


def has_validation(spec: Mapping[str, Any]) -> bool:
    """Whether training will log validation loss and metrics."""
    return spec["fit"]["validation_split"] > 0 or "validation" in spec.get("data", {})


def load_spec(body: Any, settings: Settings | None = None) -> dict[str, Any]:
    """A normalized training spec from a request body under `settings`' limits (the
    defaults when None), or InvalidSpec naming each field."""
    with limits_of(settings or in_force()):
        return load(TrainingSpecSchema(), body)


def load_model_spec(body: Any, settings: Settings | None = None) -> dict[str, Any]:
    """A spec for a dry run: only `model` is needed; whatever else is given is checked."""
    with limits_of(settings or in_force()):
        return load(DryRunSpecSchema(), body)


def over_limits(body: Any, settings: Settings) -> dict[str, list[str]]:
    """The limits of `settings` a dry-run body (valid without them) is over, by field."""
    try:
        load_model_spec(body, settings)
    except InvalidSpec as exc:
        return exc.errors or {}
    return {}
