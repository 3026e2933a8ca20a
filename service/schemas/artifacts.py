"""A trained model's files, and exports of it."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from service.ml.artifacts import EXPORT_ALIASES, EXPORT_FILES
from service.schemas.fields import Choice, StrictSchema
from service.schemas.problems import JobErrorSchema

_FORMATS = (
    "`savedmodel`: a TensorFlow SavedModel packed as `savedmodel.tar.gz`; `litert` "
    "(formerly TFLite; `tflite` is still taken): a LiteRT flatbuffer, `model.tflite`; "
    "`onnx`: the ONNX model this service serves, `model.onnx` (stored at training time; "
    "built for models trained before)."
)


class DownloadLinkSchema(Schema):
    download = fields.String(required=True, metadata={"format": "uri-reference"})


class ArtifactSchema(Schema):
    name = fields.String(required=True, metadata={"examples": ["model.keras"]})
    bytes = fields.Integer(required=True, metadata={"minimum": 0})
    sha256 = fields.String(
        required=True,
        metadata={
            "pattern": "^[0-9a-f]{64}$",
            "description": "The sha256 of its bytes (its download's `ETag`, unquoted).",
        },
    )
    links = fields.Nested(DownloadLinkSchema, required=True)


class ArtifactListSchema(Schema):
    class Meta:
        description = "The files of a finished job, in name order."

    job_id = fields.String(
        required=True, metadata={"format": "uuid", "description": "The job (an alias resolved)."}
    )
    artifacts = fields.List(fields.Nested(ArtifactSchema), required=True)


class ExportFormat(fields.String):
    """An export format by its name or its former name (`tflite` is `litert`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=Choice([*EXPORT_FILES, *EXPORT_ALIASES], "format"), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        name = super()._deserialize(value, attr, data, **kwargs)
        return EXPORT_ALIASES.get(name, name)


class ExportRequestSchema(StrictSchema):
    class Meta(StrictSchema.Meta):
        description = "The body of `POST /v1/models/{ref}/exports`."

    format = ExportFormat(required=True, metadata={"description": _FORMATS})


class ExportLinksSchema(Schema):
    self = fields.String(required=True, metadata={"format": "uri-reference"})
    download = fields.String(
        metadata={"format": "uri-reference", "description": "Only when `ready`: the file."}
    )


class ExportSchema(Schema):
    class Meta:
        description = "An export of a trained model and the state of its build."

    format = fields.String(required=True, metadata={"enum": list(EXPORT_FILES)})
    status = fields.String(
        required=True,
        metadata={
            "enum": ["queued", "started", "ready", "failed"],
            "description": (
                "`queued` for a worker, `started` (being built), `ready` (stored among the "
                "job's files; `links.download`), or `failed` (`error` says why; asking "
                "again retries)."
            ),
        },
    )
    links = fields.Nested(ExportLinksSchema, required=True)
    error = fields.Nested(JobErrorSchema, metadata={"description": "Only when `failed`."})
