"""/v1/datasets: upload a table of training data (CSV or JSON) and read its metadata.

A training spec then names it: `"data": {"dataset_id": "<id>", "target": "<column>"}`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from service.auth import FULL, READ, requires
from service.context import services
from service.errors import NotFound, UnsupportedMediaType
from service.http import json_body
from service.ml.uploads import DatasetStore, Table, parse_csv, parse_json

bp = Blueprint("datasets", __name__, url_prefix="/v1/datasets")


@bp.post("")
@requires(FULL)
def upload_dataset() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Store an uploaded table under a new ID: 201 with its metadata."""
    ctx = services()
    table = _parsed_body(ctx.settings.max_data_rows)
    meta = DatasetStore(ctx.store).save(table, request.get_data())
    return meta, 201, {"Location": url_for("datasets.get_dataset", dataset_id=meta["id"])}


@bp.get("/<dataset_id>")
@requires(READ)
def get_dataset(dataset_id: str) -> dict[str, Any]:
    meta = DatasetStore(services().store).metadata(dataset_id)
    if meta is None:
        raise NotFound(f"No dataset {dataset_id!r}: dataset IDs are UUIDs from POST /v1/datasets.")
    return meta


def _parsed_body(max_rows: int) -> Table:
    if request.mimetype == "text/csv":
        return parse_csv(request.get_data(), max_rows)
    if request.is_json:
        return parse_json(json_body(), max_rows)
    received = request.mimetype or "no Content-Type"
    raise UnsupportedMediaType(
        f"Expected Content-Type: text/csv or application/json. Received: {received}."
    )
