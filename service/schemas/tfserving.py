"""The TensorFlow Serving REST API's requests and answers, for our one signature."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema

from service.errors import InvalidInput
from service.schemas.fields import Choice, StrictSchema
from service.schemas.models import NUMERIC_ARRAY, Rows
from service.serving import INPUT

SIGNATURE = "serving_default"
_TENSOR = {
    "oneOf": [
        NUMERIC_ARRAY,
        {
            "type": "object",
            "required": [INPUT],
            "additionalProperties": False,
            "properties": {INPUT: NUMERIC_ARRAY},
        },
    ]
}


class NamedTensor(fields.Raw):
    """A tensor given bare or named by the model's one input, as TF Serving accepts
    both (`[1, 2]` or `{"input": [1, 2]}`); loads to the bare tensor."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if set(value) != {INPUT}:
            raise ValidationError(
                f"This model has one input, named '{INPUT}'. Received: {sorted(value)}."
            )
        return value[INPUT]


class InstancesField(Rows):
    """Row format: one tensor per row, each bare or named."""

    _row = NamedTensor()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        rows = super()._deserialize(value, attr, data, **kwargs)
        if not any(isinstance(row, dict) for row in rows):
            return rows  # the usual case: bare rows, kept as sent
        errors, unwrapped = {}, []
        for i, row in enumerate(rows):
            try:
                unwrapped.append(self._row.deserialize(row))
            except ValidationError as exc:
                errors[i] = exc.messages
        if errors:
            raise ValidationError(errors)
        return unwrapped


class TFServingPredictSchema(StrictSchema):
    problem = InvalidInput

    class Meta(StrictSchema.Meta):
        description = (
            "TensorFlow Serving's predict request: exactly one of `instances` (row format) "
            "and `inputs` (columnar format)."
        )

    signature_name = fields.String(
        validate=Choice((SIGNATURE,), "signature"),
        load_default=SIGNATURE,
        metadata={"description": "The signature to run; the only one is `serving_default`."},
    )
    instances = InstancesField(
        "Row format: one entry per row, each the row's tensor (shaped like the model's "
        'input) or `{"input": tensor}`. At most MAX_PREDICT_ROWS rows.'
    )
    inputs = NamedTensor(
        metadata={
            "description": (
                "Columnar format: the whole batch's tensor (a list of rows), bare or as "
                '`{"input": tensor}`.'
            ),
            **_TENSOR,
        }
    )

    @validates_schema
    def _one_format(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("instances" in data) == ("inputs" in data):
            raise ValidationError(
                "Give either 'instances' (row format) or 'inputs' (columnar).", "instances"
            )


class TFServingPredictResponseSchema(Schema):
    class Meta:
        description = (
            "The model's outputs, one row per input row in order: `predictions` for a "
            "row-format request, `outputs` for a columnar one."
        )

    predictions = fields.Raw(metadata={"type": "array", "items": NUMERIC_ARRAY})
    outputs = fields.Raw(metadata={"type": "array", "items": NUMERIC_ARRAY})


class TFServingVersionStatusSchema(Schema):
    version = fields.String(required=True, metadata={"const": "1"})
    state = fields.String(
        required=True,
        metadata={
            "enum": ["START", "LOADING", "AVAILABLE", "END"],
            "description": (
                "From the job's status: `queued` -> `START`, `started` -> `LOADING`, "
                "`finished` (its model is stored) -> `AVAILABLE`, `failed` or `canceled` "
                "-> `END`."
            ),
        },
    )
    status = fields.Nested(
        type(
            "TFServingErrorSchema",
            (Schema,),
            {
                "error_code": fields.String(required=True, metadata={"enum": ["OK", "UNKNOWN"]}),
                "error_message": fields.String(required=True),
            },
        ),
        required=True,
    )


class TFServingModelStatusSchema(Schema):
    class Meta:
        description = "TensorFlow Serving's model status, for the one version `1`."

    model_version_status = fields.List(fields.Nested(TFServingVersionStatusSchema), required=True)


class TFServingModelMetadataSchema(Schema):
    class Meta:
        description = (
            "TensorFlow Serving's model metadata: the `serving_default` signature, with "
            "one input, `input`, and one output, `output`, each FP32 with a first "
            "dimension of -1 (any number of rows)."
        )

    model_spec = fields.Dict(required=True)
    metadata = fields.Dict(required=True)
