"""The Open Inference Protocol (KServe V2): inference requests and answers, metadata.

The protocol lets servers ignore members they do not know, so these schemas do. A
request's JSON may be followed by binary tensor data (its `Inference-Header-Content-
Length` says where the JSON ends); `decode_tensor` reads an input from either.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.errors import InvalidInput
from service.limits import in_force, over_limit
from service.ml.arrays import NUMERIC_KINDS, has_booleans, in_datatype
from service.schemas.fields import Bool, Choice, Int, Lenient
from service.schemas.models import NUMERIC_ARRAY
from service.serving import INPUT, OUTPUT

HEADER_LENGTH = "Inference-Header-Content-Length"
DATATYPES = {
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
}


def _defaults(schema: type[Schema]) -> Any:
    # An absent member loads as its schema's defaults, as a present empty one does.
    return lambda: schema().load({})


class V2InputParametersSchema(Lenient):
    binary_data_size = Int(
        validate=validate.Range(0),
        metadata={
            "description": (
                "Binary tensor data extension: the size in bytes of this tensor's data, "
                "which follows the JSON request (little-endian, row-major)."
            )
        },
    )


class V2RequestInputSchema(Lenient):
    class Meta(Lenient.Meta):
        description = (
            "The input tensor: `data` as JSON, or `parameters.binary_data_size` bytes of "
            "the binary data after the JSON request."
        )

    name = fields.String(required=True, validate=Choice((INPUT,), "input"))
    shape = fields.List(
        Int(validate=validate.Range(0)),
        required=True,
        validate=validate.Length(min=2),
        metadata={"description": "`[rows, *model.input_shape]`.", "examples": [[2, 64]]},
    )
    datatype = fields.String(
        required=True,
        validate=Choice(DATATYPES, "datatype"),
        metadata={"description": "A numeric datatype; values must fit it."},
    )
    data = fields.Raw(
        metadata={
            "type": "array",
            "items": NUMERIC_ARRAY,
            "description": (
                "The tensor's values, flat in row-major order or nested as the shape; as "
                "many as the shape's product. Ignored with `parameters.binary_data_size`."
            ),
        }
    )
    parameters = fields.Nested(
        V2InputParametersSchema, load_default=_defaults(V2InputParametersSchema)
    )

    @validates_schema
    def _has_values(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "data" not in data and "binary_data_size" not in data.get("parameters", {}):
            raise ValidationError("Give `data`, or `parameters.binary_data_size`.", "data")

    @validates_schema
    def _rows_within_limit(self, data: dict[str, Any], **kwargs: Any) -> None:
        rows = data.get("shape", [0])[0]
        if rows > in_force().max_predict_rows:
            raise ValidationError(over_limit(rows, "rows", "max_predict_rows"), "shape")


class V2OutputParametersSchema(Lenient):
    binary_data = Bool(load_default=False)


class V2RequestOutputSchema(Lenient):
    name = fields.String(
        required=True,
        validate=Choice((OUTPUT,), "output"),
        metadata={"description": "The model's one output."},
    )
    parameters = fields.Nested(
        V2OutputParametersSchema, load_default=_defaults(V2OutputParametersSchema)
    )


class V2RequestParametersSchema(Lenient):
    binary_data_output = Bool(
        load_default=False,
        metadata={"description": "Return every output as binary data after the JSON."},
    )


class V2InferRequestSchema(Lenient):
    problem = InvalidInput

    class Meta(Lenient.Meta):
        description = "An inference request (the JSON part)."

    id = fields.String(metadata={"description": "Echoed in the response."})
    inputs = fields.List(
        fields.Nested(V2RequestInputSchema),
        required=True,
        validate=validate.Length(1, 1, error=f"Expected one input tensor, named '{INPUT}'."),
    )
    outputs = fields.List(fields.Nested(V2RequestOutputSchema), load_default=list)
    parameters = fields.Nested(
        V2RequestParametersSchema, load_default=_defaults(V2RequestParametersSchema)
    )


def decode_tensor(spec: dict[str, Any], binary: bytes, path: str) -> np.ndarray:
    """The array an input describes, from its JSON `data` (whose values must fit its
    datatype) or its binary data (which does by construction); service.serving then
    checks it for the model, float32's range included."""
    shape, datatype = spec["shape"], spec["datatype"]
    dtype, count = np.dtype(DATATYPES[datatype]).newbyteorder("<"), int(np.prod(shape))
    size = spec["parameters"].get("binary_data_size")
    if size is not None:
        if size != count * dtype.itemsize or size > len(binary):
            raise InvalidInput(
                {
                    f"{path}.parameters.binary_data_size": [
                        f"Expected {count * dtype.itemsize} bytes for {datatype} {shape}. "
                        f"Received: {size}."
                    ]
                }
            )
        return np.frombuffer(binary[:size], dtype=dtype).reshape(shape)
    try:
        data = np.asarray(spec["data"])
    except (ValueError, TypeError):  # ragged nesting: not one tensor
        data = np.asarray([], dtype=object)
    if data.dtype.kind not in NUMERIC_KINDS or has_booleans(spec["data"]):
        raise InvalidInput(
            {
                f"{path}.data": [
                    f"Expected {count} numbers for shape {shape}, flat or nested as the shape. "
                    "Received values that are not numbers, or lists of different lengths."
                ]
            }
        )
    if data.size != count:
        raise InvalidInput(
            {f"{path}.data": [f"Expected {count} numbers for shape {shape}. Received {data.size}."]}
        )
    return in_datatype(data, dtype, f"{path}.data", InvalidInput).reshape(shape)


class V2ServerMetadataSchema(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    extensions = fields.List(fields.String(), required=True)


class V2LiveSchema(Schema):
    live = fields.Boolean(required=True)


class V2ReadySchema(Schema):
    ready = fields.Boolean(required=True)


class V2TensorMetadataSchema(Schema):
    name = fields.String(required=True, metadata={"enum": [INPUT, OUTPUT]})
    datatype = fields.String(required=True, metadata={"const": "FP32"})
    shape = fields.List(
        fields.Integer(),
        required=True,
        metadata={"description": "`-1` (any number of rows), then the model's shape."},
    )


class V2ModelMetadataSchema(Schema):
    name = fields.String(required=True, metadata={"description": "The model as named."})
    versions = fields.List(fields.String(), required=True)
    platform = fields.String(required=True)
    inputs = fields.List(fields.Nested(V2TensorMetadataSchema), required=True)
    outputs = fields.List(fields.Nested(V2TensorMetadataSchema), required=True)


class V2ModelReadySchema(Schema):
    name = fields.String(required=True)
    ready = fields.Boolean(required=True)


class V2ResponseOutputSchema(Schema):
    name = fields.String(required=True, metadata={"const": OUTPUT})
    datatype = fields.String(required=True, metadata={"const": "FP32"})
    shape = fields.List(fields.Integer(), required=True)
    data = fields.Raw(metadata={"type": "array", "items": {"type": "number"}})
    parameters = fields.Dict()


class V2InferResponseSchema(Schema):
    model_name = fields.String(required=True)
    model_version = fields.String(
        required=True,
        metadata={
            "format": "uuid",
            "description": (
                "The job whose model answered: the model's own, or through an alias with "
                "weighted targets the one this request was routed to."
            ),
        },
    )
    id = fields.String(required=True)
    outputs = fields.List(fields.Nested(V2ResponseOutputSchema), required=True)
