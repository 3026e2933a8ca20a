"""Batch predictions: the request and the batch resource."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas.fields import Choice, JobId, StrictSchema
from service.schemas.models import RETURNS
from service.store.jobs import PRIORITIES

STATUSES = ("queued", "started", "finished", "failed", "canceled")


class BatchRequestSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = "The body of `POST /v1/models/{ref}/batch-predictions`."

    dataset_id = JobId("dataset", required=True)
    columns = fields.List(
        fields.String(),
        validate=validate.Length(min=1),
        load_default=None,
        metadata={
            "description": (
                "The dataset's columns to feed the model, in the model's input order. "
                "Absent: every column but the target the model was trained with (all of "
                "them for a model not trained on an uploaded dataset)."
            )
        },
    )
    return_ = fields.String(
        data_key="return",
        validate=Choice(RETURNS, "return"),
        load_default="probabilities",
        metadata={"description": "As for `/predict`: outputs, class labels, or both."},
    )
    queue = fields.String(
        validate=Choice(PRIORITIES, "queue"),
        load_default="low",
        metadata={"description": "The queue it waits on; `low` by default."},
    )


class BatchProgressSchema(Schema):
    rows_done = fields.Integer(required=True, metadata={"minimum": 0})
    rows = fields.Integer(required=True, metadata={"minimum": 0})
    fraction = fields.Float(required=True, metadata={"minimum": 0, "maximum": 1})


class BatchSchema(Schema):
    class Meta:
        description = "A batch prediction, as `GET /v1/batch-predictions/{batch_id}` returns it."

    id = fields.String(required=True, metadata={"format": "uuid"})
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    job_id = fields.String(
        required=True, metadata={"format": "uuid", "description": "The model's job."}
    )
    dataset_id = fields.String(required=True, metadata={"format": "uuid"})
    columns = fields.List(fields.String(), required=True)
    return_ = fields.String(data_key="return", required=True, metadata={"enum": list(RETURNS)})
    progress = fields.Nested(BatchProgressSchema, required=True)
    created_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    started_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    ended_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    result = fields.Dict(
        required=True,
        allow_none=True,
        metadata={"description": "`rows`, `bytes` and `seconds`, once finished."},
    )
    error = fields.Dict(
        required=True,
        allow_none=True,
        metadata={"description": "Why it failed (a problem naming the rows); else null."},
    )
    links = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
