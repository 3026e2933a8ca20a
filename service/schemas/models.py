"""Trained models: our predict request and answer, and model summaries."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from service.errors import InvalidInput
from service.limits import MaxItems
from service.schemas.fields import Choice, Items, StrictSchema
from service.schemas.problems import FieldErrors

RETURNS = ("probabilities", "classes", "both")
# A number, or a (nested) list of numbers: a row or a tensor.
NUMERIC_ARRAY = {"type": ["number", "array"]}
_ROW = {"type": "array", "items": NUMERIC_ARRAY}


class Rows(Items):
    """Rows to predict, one per instance, at most MAX_PREDICT_ROWS. Whether each is
    shaped like the model's input is checked against the model (service.serving)."""

    def __init__(self, description: str, **kwargs: Any) -> None:
        super().__init__(
            validate=MaxItems("max_predict_rows", "rows"),
            metadata={"description": description, "type": "array", "items": NUMERIC_ARRAY},
            **kwargs,
        )


class PredictRequestSchema(StrictSchema):
    problem = InvalidInput

    class Meta(StrictSchema.Meta):
        description = "The body of `POST /v1/models/{ref}/predict`."

    instances = Rows(
        "Input rows, one per instance, each of the model's input shape (a row of a model "
        "with input_shape [64] is 64 numbers; with [8, 8], 8 lists of 8), finite numbers "
        "within float32's range only. At most MAX_PREDICT_ROWS rows.",
        required=True,
    )
    return_ = fields.String(
        data_key="return",
        validate=Choice(RETURNS, "return"),
        load_default="probabilities",
        metadata={
            "description": (
                "What to answer: `probabilities`, the model's raw outputs (`predictions`); "
                "`classes`, each row's class label (`classes`); or `both`. `classes` and "
                "`both` need a classifier: a model trained with a regression loss "
                "answers 422."
            )
        },
    )


class PredictResponseSchema(Schema):
    class Meta:
        description = (
            "`predictions` when `return` was `probabilities` (the default) or `both`; "
            "`classes` when it was `classes` or `both`."
        )

    predictions = fields.Raw(
        metadata={
            "type": "array",
            "items": _ROW,
            "description": (
                "The model's outputs, one row per instance in request order, each of the "
                "model's output shape."
            ),
        }
    )
    classes = fields.Raw(
        metadata={
            "type": "array",
            "items": {
                "oneOf": [
                    {"type": ["integer", "string"]},
                    {"type": "array", "items": {"type": ["integer", "string"]}},
                ]
            },
            "description": (
                "The class label each row predicts: the label of the largest output (one "
                "unit per class), or for a binary model the label on the side of its "
                "threshold (0.5 for probabilities, 0 for logits and hinge losses; a list "
                "per row for several units). Labels are the dataset's class names when it "
                "has them, else class indices."
            ),
            "examples": [["setosa", "virginica"], [3, 7]],
        }
    )


class LayerSummarySchema(Schema):
    name = fields.String(required=True, metadata={"description": "The layer's name."})
    type = fields.String(required=True, metadata={"description": "The Keras layer class."})
    output_shape = fields.List(fields.Integer(allow_none=True), required=True)
    params = fields.Integer(required=True, metadata={"minimum": 0})
    trainable_params = fields.Integer(required=True, metadata={"minimum": 0})
    activation_bytes = fields.Integer(
        metadata={"minimum": 0, "description": "Memory of the layer's output for one row."}
    )


class ModelSummarySchema(Schema):
    class Meta:
        description = "What Keras's `model.summary()` prints, as data."

    name = fields.String(required=True, metadata={"description": "The Keras model's name."})
    input_shape = fields.List(
        fields.Integer(allow_none=True),
        required=True,
        metadata={"description": "The input's shape; the first (batch) dimension is null."},
    )
    output_shape = fields.List(fields.Integer(allow_none=True), required=True)
    layers = fields.List(fields.Nested(LayerSummarySchema), required=True)
    total_params = fields.Integer(required=True, metadata={"minimum": 0})
    trainable_params = fields.Integer(required=True, metadata={"minimum": 0})
    non_trainable_params = fields.Integer(required=True, metadata={"minimum": 0})
    size_bytes = fields.Integer(
        required=True,
        metadata={"minimum": 0, "description": "Memory of the weights at their dtypes."},
    )
    activation_bytes = fields.Integer(
        metadata={
            "minimum": 0,
            "description": (
                "Memory of one row's activations (every layer's output). Training a batch "
                "holds about this times `fit.batch_size` times 2 (the forward pass and its "
                "gradients), bounded by MAX_ACTIVATION_BYTES."
            ),
        }
    )


class DryRunSummarySchema(ModelSummarySchema):
    class Meta:
        description = (
            "A dry run's summary: the model as Keras would build it, and the limits of this "
            "service the spec is over (none when it could be submitted as it is)."
        )

    over_limits = FieldErrors(
        required=True,
        metadata={
            "description": (
                "Each limit the spec is over, by the JSON path of the field to change, with "
                "the value, the limit and its setting; empty when the spec is within every "
                "limit."
            )
        },
    )
