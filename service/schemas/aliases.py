"""Aliases: stable names for trained models."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.schemas.fields import AliasName, JobId, StrictSchema

MAX_TARGETS = 10


class AliasPath(StrictSchema):
    name = AliasName(required=True)


class WeightedTargetSchema(StrictSchema):
    job_id = JobId(required=True)
    weight = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, 10_000),
        metadata={"description": "Its share of the requests is its weight over the sum."},
    )


class ShadowSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = (
            "A model that sees a share of the alias's requests after they are answered, "
            "off the request path: its answers are compared with the primary's, never sent."
        )

    job_id = JobId(required=True)
    percent = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(0, 100, min_inclusive=False),
        metadata={"description": "The share of requests mirrored to it, in percent."},
    )


class AliasRequestSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = (
            "The body of `PUT /v1/aliases/{name}`: one `job_id` for all traffic, or "
            "weighted `targets`; either with an optional `shadow`. Every job named must be "
            "finished with its model stored (404 unknown, 409 not finished, 503 model "
            "missing)."
        )

    job_id = JobId(metadata={"description": "The finished job to send all requests to."})
    targets = fields.List(
        fields.Nested(WeightedTargetSchema),
        validate=validate.Length(1, MAX_TARGETS),
        metadata={
            "description": (
                "Jobs to split requests over by weight, each a different job. A request "
                "with an `X-Routing-Key` header always reaches the same target while the "
                "weights stand. The target of the largest weight (the first of equals) is "
                "the primary: what the alias names outside predictions, and what the "
                "report tests candidates against."
            )
        },
    )
    shadow = fields.Nested(ShadowSchema, load_default=None, allow_none=True)

    @validates_schema
    def _one_setting(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("job_id" in data) == ("targets" in data):
            raise ValidationError("Expected either `job_id` or weighted `targets`.", "job_id")
        jobs = [t["job_id"] for t in data.get("targets", [])]
        repeated = sorted({j for j in jobs if jobs.count(j) > 1})
        if repeated:
            raise ValidationError(
                f"Each target must be another job. Repeated: {repeated}.", "targets"
            )
        shadow = data.get("shadow")
        if shadow and shadow["job_id"] in {*jobs, data.get("job_id")}:
            raise ValidationError("The shadow must not be one of the targets.", "shadow.job_id")


class TargetSchema(Schema):
    job_id = fields.String(required=True, metadata={"format": "uuid"})
    weight = fields.Integer(required=True)


class ShadowSettingSchema(Schema):
    job_id = fields.String(required=True, metadata={"format": "uuid"})
    percent = fields.Float(required=True)


class AliasSettingSchema(Schema):
    job_id = fields.String(
        required=True, metadata={"format": "uuid", "description": "The primary target."}
    )
    targets = fields.List(fields.Nested(TargetSchema), required=True)
    shadow = fields.Nested(ShadowSettingSchema, required=True, allow_none=True)
    updated_at = fields.String(
        required=True,
        metadata={"format": "date-time", "description": "When the alias was given it."},
    )


class AliasLinksSchema(Schema):
    self = fields.String(required=True, metadata={"format": "uri-reference"})
    job = fields.String(required=True, metadata={"format": "uri-reference"})
    predict = fields.String(required=True, metadata={"format": "uri-reference"})
    report = fields.String(required=True, metadata={"format": "uri-reference"})
    payloads = fields.String(required=True, metadata={"format": "uri-reference"})


class AliasSchema(Schema):
    class Meta:
        description = "An alias, as `GET /v1/aliases/{name}` returns it."

    name = fields.String(required=True)
    job_id = fields.String(
        required=True,
        metadata={
            "format": "uuid",
            "description": "The primary target: the job of the largest weight.",
        },
    )
    targets = fields.List(
        fields.Nested(TargetSchema),
        required=True,
        metadata={"description": "The jobs requests are split over, by weight."},
    )
    shadow = fields.Nested(ShadowSettingSchema, required=True, allow_none=True)
    updated_at = fields.String(
        required=True,
        metadata={"format": "date-time", "description": "When it was last set (UTC)."},
    )
    history = fields.List(
        fields.Nested(AliasSettingSchema),
        required=True,
        metadata={
            "description": (
                "Every setting it has had, newest first (the first is the current one), "
                "up to the last 50."
            ),
            "maxItems": 50,
        },
    )
    links = fields.Nested(AliasLinksSchema, required=True)


class AliasListSchema(Schema):
    aliases = fields.List(fields.Nested(AliasSchema), required=True)
