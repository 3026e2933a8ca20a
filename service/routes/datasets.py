"""/v1/datasets: upload a table of training data (CSV or JSON) and read its metadata.

A training spec then names it: `"data": {"dataset_id": "<id>", "target": "<column>"}`.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from service.api import Blueprint, location_header
from service.auth import FULL, READ, requires
from service.context import services
from service.errors import Conflict, NotFound, UnsupportedMediaType
from service.ml.uploads import DatasetStore, Table, parse_csv, parse_rows
from service.schemas.datasets import DatasetListSchema, DatasetSchema, DatasetTableSchema

bp = Blueprint(
    "datasets",
    __name__,
    url_prefix="/v1/datasets",
    description=(
        "Upload tables of training data (CSV or JSON) for training specs to name by ID, and "
        "read their metadata."
    ),
)
CSV = "text/csv"
LOCATION = location_header("The dataset resource (`/v1/datasets/{dataset_id}`).")


@bp.post("")
@bp.doc(
    requestBody={
        "required": True,
        "content": {
            CSV: {
                "schema": {
                    "type": "string",
                    "description": (
                        "A header row naming the columns, then one row of finite numbers per "
                        "example, comma-separated (RFC 4180 quoting), UTF-8."
                    ),
                },
                "example": "a,b,sum\n1,2,3\n4.5,0.5,5\n10,-2,8\n",
            },
            "application/json": {"schema": DatasetTableSchema},
        },
    }
)
@bp.response(201, DatasetSchema, description="The table is stored; its metadata.", headers=LOCATION)
@bp.problems(400, 413, 415, 422)
@requires(FULL)
def upload_dataset() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Upload a table of training data

    Stores a table under a new ID, for training specs to name with `"data":
    {"dataset_id": "<id>", "target": "<column>"}`: the `target` column holds the labels,
    every other column is a feature, in the table's order. The body is CSV (`text/csv`,
    a header row, then one row per example) or JSON (`{"columns": [...], "rows": [[...],
    ...]}`). Every value must be a finite number within float32's range; at most
    MAX_DATA_ROWS rows. Anything else is a 422 naming the first bad rows or cells, by CSV
    line (`line 3`) or JSON path (`rows[2][1]`).
    """
    table = _table()
    meta = DatasetStore(services().artifacts).save(table, request.get_data())
    return meta, 201, {"Location": url_for("datasets.get_dataset", dataset_id=meta["id"])}


@bp.get("")
@bp.response(200, DatasetListSchema, description="The datasets, newest first.")
@requires(READ)
def list_datasets() -> dict[str, Any]:
    """List uploaded datasets

    Every stored dataset's metadata, newest first. Datasets are kept until deleted, or
    for DATASET_TTL seconds after their upload when it is set.
    """
    return {"datasets": DatasetStore(services().artifacts).list()}


@bp.delete("/<dataset_id:dataset_id>")
@bp.response(204, description="The dataset is deleted.")
@bp.problems(409)
@requires(FULL)
def delete_dataset(dataset_id: str) -> tuple[str, int]:
    """Delete an uploaded dataset

    Removes the dataset from the artifact store. A dataset that a queued or running job
    will train on is a 409 naming those jobs; jobs that have ended keep their models.
    """
    ctx = services()
    using = ctx.jobs.datasets_in_use().get(dataset_id)
    if using:
        raise Conflict(
            f"Dataset {dataset_id} is used by jobs that have not ended: {', '.join(using)}. "
            "Cancel them or wait for them to end."
        )
    if not DatasetStore(ctx.artifacts).delete(dataset_id):
        raise NotFound(f"No dataset {dataset_id!r}.")
    return "", 204


@bp.get("/<dataset_id:dataset_id>")
@bp.response(200, DatasetSchema, description="The dataset's metadata.")
@requires(READ)
def get_dataset(dataset_id: str) -> dict[str, Any]:
    """Get an uploaded dataset's metadata"""
    meta = DatasetStore(services().artifacts).metadata(dataset_id)
    if meta is None:
        raise NotFound(f"No dataset {dataset_id!r}: dataset IDs are UUIDs from POST /v1/datasets.")
    return meta


def _table() -> Table:
    """The uploaded table, by the body's media type."""
    if request.mimetype == CSV:
        return parse_csv(request.get_data(), services().settings.max_data_rows)
    if request.is_json:
        body = bp.ARGUMENTS_PARSER.parse(DatasetTableSchema(), location="json")
        return parse_rows(body["columns"], body["rows"])
    received = request.mimetype or "no Content-Type"
    raise UnsupportedMediaType(
        f"Expected Content-Type: {CSV} or application/json. Received: {received}."
    )
