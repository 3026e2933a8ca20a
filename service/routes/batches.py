"""Batch predictions: an uploaded dataset through a trained model, on a worker, the
predictions stored as CSV."""

from __future__ import annotations

import math
from typing import Any

from flask import Response, stream_with_context, url_for

from service.api import Blueprint, location_header
from service.auth import FULL, READ, requires
from service.context import Services, services
from service.errors import Conflict, InvalidRequest, NotFound
from service.http import resolve
from service.ml.uploads import DatasetStore
from service.schemas.batches import BatchRequestSchema, BatchSchema
from service.schemas.jobs import iso
from service.store.batches import BatchQueue, BatchRecord

bp = Blueprint(
    "batches",
    __name__,
    description="Batch predictions: an uploaded dataset through a model, stored as CSV.",
)

LOCATION = location_header("The batch prediction (`/v1/batch-predictions/{batch_id}`).")
CHUNK_BYTES = 1 << 20


@bp.post("/v1/models/<ref:ref>/batch-predictions")
@bp.arguments(BatchRequestSchema)
@bp.response(202, BatchSchema, description="Checked and queued.", headers=LOCATION)
@bp.problems(409, 503)
@requires(FULL)
def submit_batch(body: dict[str, Any], ref: str) -> Any:
    """Predict an uploaded dataset

    Checks the model (a finished job with a model), the dataset (an upload) and the
    columns (each in the dataset, as many as the model takes a row), then queues a batch
    prediction (on the `low` queue unless asked): a worker streams the rows through the
    model's ONNX session in chunks and stores the predictions, with the rows' numbers,
    as CSV. Its resource has its progress; its `links.download` serves the CSV once it
    has finished.
    """
    ctx = services()
    job_id = resolve(ref)
    predictor = ctx.predictor(job_id)  # a finished job with a model, loaded: 404, 409, 503
    dataset = DatasetStore(ctx.artifacts).metadata(body["dataset_id"])
    if dataset is None:
        raise InvalidRequest({"dataset_id": [f"No dataset {body['dataset_id']}."]})
    columns = body["columns"] or default_columns(ctx, job_id, dataset["columns"])
    errors = {
        f"columns[{i}]": [f"The dataset has no column {name!r}: {', '.join(dataset['columns'])}."]
        for i, name in enumerate(columns)
        if name not in dataset["columns"]
    }
    width = math.prod(predictor.input_shape)
    if not errors and len(columns) != width:
        errors["columns"] = [
            f"The model takes {width} numbers a row (input shape "
            f"{list(predictor.input_shape)}); {len(columns)} columns were given."
        ]
    if body["return_"] != "probabilities" and predictor.classes is None:
        errors["return"] = ["This model was trained with a regression loss: it has no classes."]
    if errors:
        raise InvalidRequest(errors)
    request = {
        "job_id": job_id,
        "dataset_id": body["dataset_id"],
        "columns": columns,
        "return": body["return_"],
        "rows": dataset["rows"],
    }
    record = BatchQueue(ctx.jobs).submit(request, body["queue"])
    location = url_for("batches.get_batch", batch_id=record.id)
    return batch_resource(record), 202, {"Location": location}


def default_columns(ctx: Services, job_id: str, columns: list[str]) -> list[str]:
    """Every column but the target the model was trained on, if it was trained on an
    uploaded dataset."""
    spec = ctx.artifacts.read(job_id, "spec") or {}
    target = spec.get("data", {}).get("target")
    return [name for name in columns if name != target]


@bp.get("/v1/batch-predictions/<batch_id:batch_id>")
@bp.response(200, BatchSchema, description="The batch prediction.")
@requires(READ)
def get_batch(batch_id: str) -> dict[str, Any]:
    """Get a batch prediction

    Its status, its progress (rows predicted of all), and once finished its result and
    a download link; a failed one's error names the rows it failed on.
    """
    return batch_resource(_found(BatchQueue(services().jobs).get(batch_id), batch_id))


@bp.post("/v1/batch-predictions/<batch_id:batch_id>/cancel")
@bp.response(200, BatchSchema, description="Canceled, or stopping after its current chunk.")
@bp.problems(409)
@requires(FULL)
def cancel_batch(batch_id: str) -> dict[str, Any]:
    """Cancel a batch prediction

    A queued one never starts; a running one stops after its current chunk. One that
    has already finished or failed is a 409.
    """
    batches = BatchQueue(services().jobs)
    record = _found(batches.get(batch_id), batch_id)
    if record.status in ("finished", "failed"):
        raise Conflict(f"Batch prediction {batch_id} has already {record.status}.")
    return batch_resource(_found(batches.cancel(batch_id), batch_id))


@bp.get("/v1/batch-predictions/<batch_id:batch_id>/predictions.csv")
@bp.response(
    200,
    content_type="text/csv",
    description="The predictions: `row`, then `prediction_0`, ... and/or `class`.",
)
@bp.problems(409)
@requires(READ)
def download_batch(batch_id: str) -> Response:
    """Download a batch prediction's CSV (once it has finished)"""
    ctx = services()
    record = _found(BatchQueue(ctx.jobs).get(batch_id), batch_id)
    if record.status != "finished":
        raise Conflict(f"Batch prediction {batch_id} is {record.status}; it has no CSV yet.")
    try:
        stream = ctx.artifacts.fs.open(ctx.artifacts.batch_path(batch_id), "rb")
    except FileNotFoundError:
        raise NotFound(f"The predictions of batch {batch_id} are gone from the store.") from None

    def chunks() -> Any:
        with stream:
            while block := stream.read(CHUNK_BYTES):
                yield block

    return Response(
        stream_with_context(chunks()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{batch_id}.csv"'},
    )


def _found(record: BatchRecord | None, batch_id: str) -> BatchRecord:
    if record is None:
        raise NotFound(f"No batch prediction {batch_id}.")
    return record


def batch_resource(record: BatchRecord) -> dict[str, Any]:
    request, rows = record.request, record.request.get("rows", 0)
    links = {
        "self": url_for("batches.get_batch", batch_id=record.id),
        "cancel": url_for("batches.cancel_batch", batch_id=record.id),
    }
    if record.status == "finished":
        links["download"] = url_for("batches.download_batch", batch_id=record.id)
    return {
        "id": record.id,
        "status": record.status,
        "job_id": request.get("job_id"),
        "dataset_id": request.get("dataset_id"),
        "columns": request.get("columns", []),
        "return_": request.get("return"),
        "progress": {
            "rows_done": record.rows_done,
            "rows": rows,
            "fraction": round(record.rows_done / rows, 4) if rows else 0.0,
        },
        "created_at": iso(record.created_at),
        "started_at": iso(record.started_at),
        "ended_at": iso(record.ended_at),
        "result": record.result,
        "error": record.error,
        "links": links,
    }
