"""Jobs: the job resource, its list, its query strings and headers, its events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate

from service.schemas.fields import Choice, JobId, Lenient, Variants
from service.schemas.problems import JobErrorSchema
from service.store.jobs import PRIORITIES, STATUSES, JobRecord

MAX_LIST = 100
MAX_WAIT_S = 60  # longest long-poll; under gunicorn's timeout and most proxies'
MAX_KEY_LENGTH = 255

_STATUS = (
    "`queued` (waiting for a worker), `started` (training), `finished` (trained and "
    "evaluated; its model can be used), `failed` (see the job's `error`), `canceled` "
    "(stopped by `POST /v1/jobs/{job_id}/cancel`; it has no model and no `error`), "
    "`pruned` (a sweep's trial stopped early by its pruner: its history, no model). "
    "`finished`, `failed`, `canceled` and `pruned` are final."
)


def _link(description: str) -> fields.String:
    return fields.String(
        required=True, metadata={"format": "uri-reference", "description": description}
    )


def _moment(description: str) -> fields.String:
    return fields.String(
        required=True,
        allow_none=True,
        metadata={"format": "date-time", "description": description},
    )


class ProgressSchema(Schema):
    epoch = fields.Integer(
        required=True,
        metadata={"minimum": 0, "description": "Epochs finished so far (0 before the first)."},
    )
    epochs = fields.Integer(
        required=True, metadata={"minimum": 0, "description": "The spec's `fit.epochs`."}
    )
    fraction = fields.Float(
        required=True,
        metadata={
            "minimum": 0,
            "maximum": 1,
            "description": (
                "epoch / epochs, rounded to 4 decimals; 1 once the job has finished (early "
                "stopping may end it before `epochs`)."
            ),
        },
    )


class ResultSchema(Schema):
    class Meta:
        description = "How training went."

    evaluated_on = fields.String(
        required=True,
        metadata={
            "enum": ["test", "train"],
            "description": (
                "The rows `metrics` were computed on: `test` (the held-out split), or "
                "`train` when the spec holds none out."
            ),
        },
    )
    epochs_run = fields.Integer(
        required=True,
        metadata={"minimum": 0, "description": "Epochs run (fewer when stopped early)."},
    )
    best_epoch = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "minimum": 1,
            "description": (
                "With early stopping and `restore_best_weights`, the epoch whose weights "
                "were kept; else null."
            ),
        },
    )
    seconds = fields.Float(
        required=True,
        metadata={"minimum": 0, "description": "Wall-clock seconds of the training run."},
    )


def _diagnosis_schema(kind: str, description: str, **members: fields.Field) -> type[Schema]:
    declared = {
        "kind": fields.String(required=True, metadata={"const": kind}),
        "hint": fields.String(
            required=True,
            metadata={"description": "One line saying what the curves show and what to change."},
        ),
        **members,
        "Meta": type("Meta", (), {"title": kind, "description": description}),
    }
    name = "".join(part.capitalize() for part in kind.split("_"))
    return type(f"{name}DiagnosisSchema", (Schema,), declared)


def _number(description: str, **metadata: object) -> fields.Float:
    return fields.Float(required=True, metadata={"description": description, **metadata})


DIAGNOSES = {
    "diverged": _diagnosis_schema(
        "diverged",
        "A loss became NaN or infinite, or the training loss grew 10-fold.",
        epoch=fields.Integer(required=True, metadata={"minimum": 1}),
    ),
    "not_learning": _diagnosis_schema(
        "not_learning",
        "The training loss never got 1 % below its first epoch's.",
        first_loss=_number("The training loss of epoch 1."),
        best_loss=_number("The lowest training loss after epoch 1."),
        baseline_loss=fields.Float(
            required=True,
            allow_none=True,
            metadata={"description": "The loss of predicting the prior; null where none."},
        ),
    ),
    "overfitting": _diagnosis_schema(
        "overfitting",
        "Validation loss rose 10 % above its lowest, 2 or more epochs before the kept "
        "weights, while the training loss fell.",
        began_at_epoch=fields.Integer(required=True, metadata={"minimum": 2}),
        best_epoch=fields.Integer(required=True, metadata={"minimum": 1}),
        best_val_loss=_number("The lowest `val_loss`."),
        val_loss=_number("The `val_loss` of the weights the model kept."),
        epochs_past_best=fields.Integer(required=True, metadata={"minimum": 2}),
        val_loss_excess=_number("`val_loss` - `best_val_loss`.", minimum=0),
    ),
    "underfitting": _diagnosis_schema(
        "underfitting",
        "Training and validation losses at the kept epoch are both at least half the loss "
        "of predicting the prior.",
        loss_to_baseline=_number("The kept training loss over `baseline_loss`.", minimum=0.5),
        baseline_loss=_number("The loss of predicting the prior of the training labels."),
        still_falling=fields.Boolean(required=True),
    ),
    "ok": _diagnosis_schema(
        "ok",
        "None of the other kinds fits, or the run is too short to judge.",
        epochs=fields.Integer(metadata={"minimum": 0, "maximum": 1}),
    ),
}


class JobSchema(Schema):
    class Meta:
        description = "A training job, as `GET /v1/jobs/{job_id}` returns it."

    id = fields.String(required=True, metadata={"format": "uuid", "description": "The job's ID."})
    name = fields.String(
        required=True, allow_none=True, metadata={"description": "The spec's `name`."}
    )
    status = fields.String(required=True, metadata={"enum": list(STATUSES), "description": _STATUS})
    created_at = _moment("When the job was queued (UTC, ISO 8601 with `Z`).")
    started_at = _moment("When a worker started it; null until then.")
    ended_at = _moment("When it finished, failed or was canceled; null until then.")
    progress = fields.Nested(ProgressSchema, required=True)
    history = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Float(allow_none=True)),
        required=True,
        metadata={
            "description": (
                "Per-epoch values by name as Keras logs them (`loss`, each metric, and "
                "`val_` ones with validation data), one entry per finished epoch; NaN or "
                "infinite values are null."
            )
        },
    )
    metrics = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        required=True,
        allow_none=True,
        metadata={
            "description": (
                "Loss and metrics of the trained model on the held-out test split (or the "
                "training rows, see `result.evaluated_on`); null until finished."
            )
        },
    )
    result = fields.Nested(ResultSchema, required=True, allow_none=True)
    error = fields.Nested(
        JobErrorSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Why a failed job failed; null unless it failed."},
    )
    diagnosis = Variants(
        {kind: schema() for kind, schema in DIAGNOSES.items()},
        "diagnosis",
        by="kind",
        required=True,
        allow_none=True,
        metadata={
            "description": (
                "What the job's curves say, computed when training ends; null before, and "
                "for jobs canceled or failed for other reasons than diverging."
            )
        },
    )
    queue = fields.String(required=True, metadata={"enum": list(PRIORITIES)})
    notify = fields.Dict(
        required=True,
        allow_none=True,
        metadata={
            "description": (
                "The spec's webhook (`url`, `events`) and its `deliveries` so far: each "
                "attempt's time (`at`), `event`, and the receiver's `status` or the `error`."
            )
        },
    )
    attempts = fields.Integer(
        required=True,
        metadata={
            "minimum": 0,
            "description": (
                "How many times a worker started the job: more than 1 when a worker died "
                "mid-fit and the job was queued again (at most JOB_RETRIES times)."
            ),
        },
    )
    init_from = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "format": "uuid",
            "description": "The job whose model this one started from (`init_from`); else null.",
        },
    )
    resumed_from_epoch = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "minimum": 1,
            "description": (
                "The epoch whose checkpoint the latest attempt went on from; null if it "
                "started from the beginning."
            ),
        },
    )
    sweep = fields.Nested(
        type(
            "JobTrialSchema",
            (Schema,),
            {
                "id": fields.String(required=True, metadata={"format": "uuid"}),
                "trial": fields.Integer(required=True, metadata={"minimum": 0}),
                "params": fields.Dict(keys=fields.String(), values=fields.Raw(), required=True),
            },
        ),
        required=True,
        allow_none=True,
        metadata={
            "description": (
                "For a sweep's trial: the sweep's ID, the trial's number and the value of "
                "each searched path; null for other jobs."
            )
        },
    )
    links = fields.Nested(
        type(
            "JobLinksSchema",
            (Schema,),
            {
                "self": _link("This job."),
                "events": _link("Its progress as server-sent events."),
                "cancel": _link("Where to `POST` to cancel it."),
                "predict": _link("Its model's predictions, once finished."),
                "summary": _link("Its model's summary, once finished."),
            },
        ),
        required=True,
    )


class JobListSchema(Schema):
    jobs = fields.List(fields.Nested(JobSchema), required=True)


class JobListQuery(Lenient):
    status = fields.String(
        validate=Choice(STATUSES, "status"), metadata={"description": "Only jobs with this status."}
    )
    sweep_id = JobId("sweep", metadata={"description": "Only this sweep's trials."})
    # Query values are text: read as integers ("20"), unlike JSON numbers.
    limit = fields.Integer(
        validate=validate.Range(1, MAX_LIST),
        load_default=20,
        metadata={"description": "The most jobs to return."},
    )


class JobWaitQuery(Lenient):
    wait = fields.Integer(
        validate=validate.Range(0, MAX_WAIT_S),
        load_default=0,
        metadata={
            "description": (
                "Seconds to wait for the job's status or epoch to change before answering; "
                "0 answers at once."
            )
        },
    )


class IdempotencyHeaders(Lenient):
    key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Length(1, MAX_KEY_LENGTH),
        metadata={
            "description": (
                "Any unique text that makes the submission safe to retry: the same key with "
                "the same body answers `200` with the job the first request created; with "
                "another body, a 409. Keys are remembered for JOB_TTL."
            )
        },
    )


class LastEventHeaders(Lenient):
    last = fields.String(
        data_key="Last-Event-ID",
        load_default="0",
        metadata={
            "description": (
                "The `id` of the last event received (an epoch): events resume after it. "
                "Anything other than digits starts from the first epoch."
            )
        },
    )


class JobEventSchema(Schema):
    class Meta:
        description = (
            "One server-sent event: `epoch` events (`id` the epoch, `data` the epoch's "
            "values by the names of `history`, with `epoch` and `epochs`, as JSON), then "
            "one `end` event (`data` the job as JSON). `: keepalive` comment lines between "
            "them are not events."
        )

    event = fields.String(required=True, metadata={"enum": ["epoch", "end"]})
    id = fields.String(metadata={"pattern": "^[1-9][0-9]*$"})
    data = fields.String(required=True, metadata={"contentMediaType": "application/json"})


def job_document(record: JobRecord) -> dict[str, Any]:
    """A job's public JSON without its links (what a webhook delivers)."""
    result = record.result or {}
    return {
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "created_at": iso(record.created_at),
        "started_at": iso(record.started_at),
        "ended_at": iso(record.ended_at),
        "progress": {"epoch": record.epoch, "epochs": record.epochs, "fraction": record.fraction},
        "history": record.history,
        "metrics": result.get("metrics"),
        "result": {k: v for k, v in result.items() if k != "metrics"} or None,
        "error": record.error,
        "diagnosis": record.diagnosis,  # what the curves say, once training has ended
        "queue": record.queue,
        "sweep": record.sweep,
        "attempts": record.attempts,
        "init_from": record.init_from,
        "resumed_from_epoch": record.resumed_from_epoch,
        "notify": record.notify,
    }


def iso(moment: datetime | None) -> str | None:
    """A moment as the API writes it: ISO 8601 in UTC with `Z`."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None
