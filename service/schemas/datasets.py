"""Uploaded datasets: the table a client sends, and the metadata it gets back."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.limits import MaxItems
from service.ml.uploads import MAX_COLUMN_NAME
from service.schemas.fields import Items, StrictSchema


class DatasetTableSchema(StrictSchema):
    """Only the table's form: its values are read by service.ml.uploads.parse_table,
    which names every bad cell by its JSON path."""

    class Meta(StrictSchema.Meta):
        description = (
            "The JSON body of `POST /v1/datasets`: the column names, then one row of "
            "values per example, one value per column, in the columns' order. Column names "
            f"are 1 to {MAX_COLUMN_NAME} characters once surrounding spaces are dropped, "
            "and unique; values are finite numbers within float32's range (class labels as "
            "indices 0, 1, 2, ...); at most MAX_DATA_ROWS rows."
        )

    columns = fields.List(
        fields.String(), required=True, metadata={"minItems": 1, "examples": [["a", "b", "sum"]]}
    )
    rows = Items(
        required=True,
        validate=MaxItems("max_data_rows", "rows of data"),
        metadata={
            "type": "array",
            "items": {"type": "array", "items": {"type": "number"}},
            "examples": [[[1, 2, 3], [4.5, 0.5, 5]]],
        },
    )


class DatasetSchema(Schema):
    class Meta:
        description = (
            "An uploaded dataset's metadata, as `POST /v1/datasets` and "
            "`GET /v1/datasets/{dataset_id}` return it."
        )

    id = fields.String(
        required=True,
        metadata={"format": "uuid", "description": "For a training spec's `data.dataset_id`."},
    )
    rows = fields.Integer(required=True, metadata={"minimum": 1})
    columns = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The column names, in order; a spec names one `data.target`."},
    )
    sha256 = fields.String(
        required=True,
        metadata={"pattern": "^[0-9a-f]{64}$", "description": "The digest of the body uploaded."},
    )
    bytes = fields.Integer(
        required=True, metadata={"minimum": 0, "description": "The size of the body uploaded."}
    )
    created_at = fields.String(required=True, metadata={"format": "date-time"})


class DatasetListSchema(Schema):
    datasets = fields.List(fields.Nested(DatasetSchema), required=True)
