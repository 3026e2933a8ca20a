"""Aliases: stable names for trained models."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.fields import AliasName, JobId, StrictSchema


class AliasPath(StrictSchema):
    name = AliasName(required=True)


class AliasRequestSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = "The body of `PUT /v1/aliases/{name}`."

    job_id = JobId(
        required=True,
        metadata={
            "description": (
                "The finished job to point at; one whose model is not stored is refused "
                "(404 unknown, 409 not finished, 503 model missing)."
            )
        },
    )


class AliasTargetSchema(Schema):
    job_id = fields.String(required=True, metadata={"format": "uuid"})
    updated_at = fields.String(
        required=True,
        metadata={"format": "date-time", "description": "When the alias was set to it."},
    )


class AliasLinksSchema(Schema):
    self = fields.String(required=True, metadata={"format": "uri-reference"})
    job = fields.String(required=True, metadata={"format": "uri-reference"})
    predict = fields.String(required=True, metadata={"format": "uri-reference"})


class AliasSchema(Schema):
    class Meta:
        description = "An alias, as `GET /v1/aliases/{name}` returns it."

    name = fields.String(required=True)
    job_id = fields.String(
        required=True, metadata={"format": "uuid", "description": "The job it points at now."}
    )
    updated_at = fields.String(
        required=True,
        metadata={"format": "date-time", "description": "When it was last set (UTC)."},
    )
    history = fields.List(
        fields.Nested(AliasTargetSchema),
        required=True,
        metadata={
            "description": (
                "Every job it has pointed at, newest first (the first is the current one), "
                "up to the last 50 settings."
            ),
            "maxItems": 50,
        },
    )
    links = fields.Nested(AliasLinksSchema, required=True)


class AliasListSchema(Schema):
    aliases = fields.List(fields.Nested(AliasSchema), required=True)
