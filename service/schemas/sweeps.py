"""Sweeps: the request that starts one (a training spec, a search space over it and how
to search), the sweep resource, its list and its events."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from service.errors import InvalidSweep
from service.limits import AtMost
from service.schemas.fields import (
    UUID,
    AliasName,
    Bool,
    Choice,
    Int,
    Lenient,
    Number,
    PlainText,
    StrictSchema,
    strict_int,
)
from service.schemas.jobs import MAX_LIST
from service.schemas.spec import TrainingSpecSchema, has_validation
from service.sweeps.space import KINDS, dimensions, grid_values

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
DIRECTIONS = ("minimize", "maximize")
STATUSES = ("queued", "running", "finished", "canceled", "failed")
TRIAL_STATUSES = ("queued", "started", "finished", "pruned", "failed", "canceled")
MAX_DIMENSIONS = 16
MAX_CHOICES = 64
MAX_SWEEP_SECONDS = 30 * 24 * 3600


class DistributionSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = (
            "Exactly one of `int` or `float` (a range [low, high], both included; `log` "
            "draws evenly on a log scale) or `choice` (any JSON values: numbers, names, "
            "objects, whole layer lists)."
        )

    int_ = fields.List(Int(), data_key="int", validate=validate.Length(2, 2))
    float_ = fields.List(Number(), data_key="float", validate=validate.Length(2, 2))
    choice = fields.List(fields.Raw(allow_none=True), validate=validate.Length(1, MAX_CHOICES))
    log = Bool(load_default=False)

    @validates_schema(skip_on_field_errors=True)
    def _one_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [k for k in KINDS if f"{k}_" in data or k in data]
        if len(given) != 1:
            raise ValidationError(f"Give exactly one of {', '.join(KINDS)}. Received: {given}.")
        (kind,) = given
        if kind == "choice":
            if data["log"]:
                raise ValidationError({"log": ["Only an int or float range can be log."]})
            return
        low, high = data[f"{kind}_"]
        if low > high:
            raise ValidationError({kind: [f"Expected [low, high]. Received: [{low}, {high}]."]})
        if data["log"] and low <= 0:
            raise ValidationError({kind: ["A log range needs low > 0."]})

    @post_load
    def _normalized(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        kind = next(k for k in KINDS if f"{k}_" in data or k in data)
        if kind == "choice":
            return {"kind": kind, "choices": data["choice"], "log": False}
        low, high = data[f"{kind}_"]
        return {"kind": kind, "low": low, "high": high, "log": data["log"]}


class Search(fields.Dict):
    """JSON path -> distribution, each loaded by DistributionSchema, errors keyed by
    the path (marshmallow's Dict would key them `path.value`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), values=fields.Nested(DistributionSchema), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict) or not 1 <= len(value) <= MAX_DIMENSIONS:
            raise ValidationError(
                f"Expected an object of 1 to {MAX_DIMENSIONS} JSON paths into the spec, "
                "each with a distribution."
            )
        loaded, errors = {}, {}
        schema = DistributionSchema()
        for path, distribution in value.items():
            try:
                loaded[path] = schema.load(distribution)
            except ValidationError as exc:
                errors[path] = exc.messages
        if errors:
            raise ValidationError(errors)
        return loaded


class ObjectiveSchema(StrictSchema):
    metric = fields.String(
        load_default="val_loss",
        metadata={
            "description": (
                "A quantity the trials log each epoch: `loss`, a compiled metric, or their "
                "`val_` forms when the spec validates. A trial's objective is its value at "
                "the epoch whose weights were kept (the best with early stopping's "
                "`restore_best_weights`, else the last)."
            )
        },
    )
    direction = fields.String(validate=Choice(DIRECTIONS, "direction"), load_default="minimize")


class SweepRequestSchema(StrictSchema):
    problem = InvalidSweep

    class Meta(StrictSchema.Meta):
        description = "The body of `POST /v1/sweeps`."

    name = fields.String(validate=[validate.Length(1, 100), PlainText()], load_default=None)
    spec = fields.Nested(
        TrainingSpecSchema,
        required=True,
        metadata={"description": "A training spec, exactly as `POST /v1/jobs` takes it."},
    )
    search = Search(
        required=True,
        metadata={
            "type": "object",
            "minProperties": 1,
            "maxProperties": MAX_DIMENSIONS,
            "description": (
                "JSON paths into the spec (`model.layers[0].units`, "
                "`compile.optimizer.learning_rate`, `fit.batch_size`), each with a "
                "distribution. Each object and list on a path must be in the spec; its last "
                "key may be one the spec leaves to its default. Every corner of the space "
                "(each range's ends, each choice) must pass a job's checks."
            ),
        },
    )
    objective = fields.Nested(
        ObjectiveSchema, load_default=lambda: {"metric": "val_loss", "direction": "minimize"}
    )
    trials = Int(
        validate=AtMost("max_trials", "trials"),
        load_default=10,
        metadata={"description": "How many trials to run (at most MAX_TRIALS)."},
    )
    parallel = strict_int(
        1, 64, load_default=2, metadata={"description": "At most this many trials at once."}
    )
    max_seconds = strict_int(
        1,
        MAX_SWEEP_SECONDS,
        load_default=24 * 3600,
        metadata={
            "description": (
                "The sweep's wall-clock budget: no trial starts after it, and running ones "
                "are canceled."
            )
        },
    )
    sampler = fields.String(
        validate=Choice(SAMPLERS, "sampler"),
        load_default="tpe",
        metadata={
            "description": (
                "Optuna's `tpe` (TPE, after a few random trials), `random`, or `grid` (every "
                "combination of `choice` values and integers of `int` ranges)."
            )
        },
    )
    pruner = fields.String(
        validate=Choice(PRUNERS, "pruner"),
        load_default="median",
        metadata={
            "description": (
                "What stops poor trials early (they end `pruned`, keeping their history and "
                "no model): `median` (below the median of completed trials at the same "
                "epoch, from epoch 3), `hyperband`, or `none`."
            )
        },
    )
    seed = strict_int(0, load_default=0, metadata={"description": "The sampler's seed."})
    promote = AliasName(
        load_default=None,
        allow_none=True,
        metadata={
            # A UUID-shaped string is refused; null (no alias) is not one.
            "not": {"type": "string", "pattern": f"^{UUID}$"},
            "description": (
                "An alias to point at the best trial when the sweep ends, if it beats the "
                "model the alias points at on the objective (the sweep's `result` says)."
            ),
        },
    )

    @validates_schema(skip_on_field_errors=True)
    def _space(self, data: dict[str, Any], **kwargs: Any) -> None:
        space, errors = dimensions(data["search"], data["spec"])
        if errors:
            raise ValidationError({"search": errors})
        spec = data["spec"]
        logged = ["loss", *spec["compile"]["metrics"]]
        if has_validation(spec):
            logged += [f"val_{name}" for name in logged]
        metric = data["objective"]["metric"]
        if metric not in logged:
            hint = " (`val_` quantities need fit.validation_split or data.validation)"
            raise ValidationError(
                {
                    "objective": {
                        "metric": [
                            f"The trials do not log {metric!r}; they log "
                            f"{', '.join(logged)}{hint if metric.startswith('val_') else ''}."
                        ]
                    }
                }
            )
        if data["sampler"] == "grid":
            _check_grid(space, data["trials"])

    @post_load
    def _definition(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        space, _ = dimensions(data["search"], data["spec"])
        fields_of = [f.name for f in dataclasses.fields(space[0]) if f.name != "steps"]
        data["space"] = [{name: getattr(d, name) for name in fields_of} for d in space]
        data["parallel"] = min(data["parallel"], data["trials"])
        return data


def _check_grid(space: list[Any], trials: int) -> None:
    floats = [d.path for d in space if d.kind == "float"]
    if floats:
        raise ValidationError(
            {
                "sampler": [
                    f"A grid needs choices or int ranges; {', '.join(floats)} is a float range."
                ]
            }
        )
    size = math.prod(len(grid_values(dataclasses.asdict(d))) for d in space)
    if trials > size:
        raise ValidationError(
            {"trials": [f"The grid has {size:,} points; ask for at most that many trials."]}
        )


def _moment(description: str) -> fields.String:
    return fields.String(
        required=True, allow_none=True, metadata={"format": "date-time", "description": description}
    )


class TrialSchema(Schema):
    number = fields.Integer(
        required=True, metadata={"description": "The trial's number in the sweep (from 0)."}
    )
    job_id = fields.String(
        required=True,
        allow_none=True,
        metadata={"format": "uuid", "description": "Its training job; null if none was queued."},
    )
    status = fields.String(required=True, metadata={"enum": list(TRIAL_STATUSES)})
    params = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        required=True,
        metadata={"description": "The value of each searched path."},
    )
    objective = fields.Float(
        required=True,
        allow_none=True,
        metadata={
            "description": (
                "The objective at the kept epoch (finished), or at the last epoch run "
                "(pruned); null otherwise."
            )
        },
    )
    epochs = fields.Integer(required=True, metadata={"description": "Epochs run so far."})
    seconds = fields.Float(required=True, allow_none=True)
    metrics = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        allow_none=True,
        metadata={"description": "Test metrics of a finished trial's model."},
    )
    error = fields.Dict(
        allow_none=True, metadata={"description": "Why a failed trial failed (a problem)."}
    )


class PromotionSchema(Schema):
    alias = fields.String(required=True)
    promoted = fields.Boolean(required=True)
    job_id = fields.String(allow_none=True, metadata={"description": "Where the alias points now."})
    reason = fields.String(required=True)


class SweepSchema(Schema):
    class Meta:
        description = "A sweep, as `GET /v1/sweeps/{sweep_id}` returns it."

    id = fields.String(required=True, metadata={"format": "uuid"})
    name = fields.String(required=True, allow_none=True)
    status = fields.String(
        required=True,
        metadata={
            "enum": list(STATUSES),
            "description": (
                "`queued` (no trial started yet), `running`, `finished` (every trial ended, "
                "or its time ran out), `canceled`, `failed` (no trial finished). The last "
                "three are final (`ended_at` set) once no trial is still stopping."
            ),
        },
    )
    created_at = _moment("When the sweep was submitted.")
    ended_at = _moment("When its last trial ended.")
    objective = fields.Nested(ObjectiveSchema, required=True)
    search = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        required=True,
        metadata={
            "description": (
                "The searched paths, each with its distribution as loaded: `kind` (int, "
                "float or choice), `low` and `high` or `choices`, and `log`."
            )
        },
    )
    sampler = fields.String(required=True, metadata={"enum": list(SAMPLERS)})
    pruner = fields.String(required=True, metadata={"enum": list(PRUNERS)})
    trials = fields.Integer(required=True, metadata={"description": "Trials asked for."})
    parallel = fields.Integer(required=True)
    counts = fields.Dict(
        keys=fields.String(metadata={"enum": list(TRIAL_STATUSES)}),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Trials by status."},
    )
    best = fields.Nested(
        TrialSchema,
        required=True,
        allow_none=True,
        metadata={"description": "The finished trial with the best objective; null before."},
    )
    leaderboard = fields.List(
        fields.Nested(TrialSchema),
        required=True,
        metadata={
            "description": (
                "Every trial: finished ones by objective, best first, then pruned ones by "
                "objective, then the rest by number."
            )
        },
    )
    importance = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        required=True,
        allow_none=True,
        metadata={
            "description": (
                "Each searched path's share of the objective's variance (Optuna's fANOVA), "
                "once 4 trials have finished; null before."
            )
        },
    )
    promotion = fields.Nested(PromotionSchema, required=True, allow_none=True)
    links = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class SweepListSchema(Schema):
    sweeps = fields.List(fields.Nested(SweepSchema), required=True)


class SweepListQuery(Lenient):
    limit = fields.Integer(validate=validate.Range(1, MAX_LIST), load_default=20)


class SweepDeleteQuery(Lenient):
    trials = fields.Boolean(
        load_default=False,
        metadata={"description": "Delete the trials' jobs and their models too."},
    )


class SweepEventSchema(Schema):
    class Meta:
        description = (
            "One server-sent event: a `trial` event per ended trial (`id` its place in the "
            "order trials ended, `data` the trial as JSON), then one `end` event (`data` "
            "the sweep as JSON)."
        )

    event = fields.String(required=True, metadata={"enum": ["trial", "end"]})
    id = fields.String(metadata={"pattern": "^[1-9][0-9]*$"})
    data = fields.String(required=True, metadata={"contentMediaType": "application/json"})
