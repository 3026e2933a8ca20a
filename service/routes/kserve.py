"""The Open Inference Protocol (KServe V2) over HTTP, for Triton and KServe clients.

Tensors come as JSON (`data`, flat or nested) or, as tritonclient sends them by default,
with the binary tensor data extension: a JSON header of `Inference-Header-Content-Length`
bytes followed by the raw little-endian tensor bytes. Each model has version "1", one
input named "input" and one output named "output".
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import orjson
from flask import Blueprint, Response, current_app, request

from service.auth import READ, public, requires
from service.context import services
from service.errors import InvalidInput, MalformedRequest, NotFound
from service.http import model_job_id
from service.metrics import count_predicted_rows
from service.serving import INPUT, OUTPUT, VERSION, check_rows

bp = Blueprint("kserve", __name__, url_prefix="/v2")

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


@bp.get("")
@public
def server_metadata() -> dict[str, Any]:
    return {
        "name": "keras-training-service",
        "version": "0.1.0",
        "extensions": ["binary_tensor_data"],
    }


@bp.get("/health/live")
@public
def live() -> dict[str, Any]:
    return {"live": True}


@bp.get("/health/ready")
@public
def ready() -> dict[str, Any]:
    """Ready to infer: stored models load without Redis, so this process is enough."""
    return {"ready": True}


@bp.get("/models/<job_id>")
@bp.get("/models/<job_id>/versions/<version>")
@requires(READ)
def model_metadata(job_id: str, version: str = VERSION) -> dict[str, Any]:
    _check_version(version)
    predictor = services().predictor(model_job_id(job_id))
    return {
        "name": job_id,
        "versions": [VERSION],
        "platform": "keras",
        "inputs": [_tensor_metadata(INPUT, predictor.input_shape)],
        "outputs": [_tensor_metadata(OUTPUT, predictor.output_shape)],
    }


@bp.get("/models/<job_id>/ready")
@bp.get("/models/<job_id>/versions/<version>/ready")
@requires(READ)
def model_ready(job_id: str, version: str = VERSION) -> dict[str, Any]:
    """200 when the model can infer; 404 or 409 (job not finished) otherwise."""
    _check_version(version)
    services().predictor(model_job_id(job_id))
    return {"name": job_id, "ready": True}


@bp.post("/models/<job_id>/infer")
@bp.post("/models/<job_id>/versions/<version>/infer")
@requires(READ)
def infer(job_id: str, version: str = VERSION) -> Response:
    _check_version(version)
    ctx = services()
    header, binary = _read_request()
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise InvalidInput({"inputs": [f"Expected one input tensor, named '{INPUT}'."]})
    if inputs[0].get("name") != INPUT:
        raise InvalidInput(
            {"inputs[0].name": [f"Expected '{INPUT}'. Received: {inputs[0].get('name')!r}."]}
        )
    predictor = ctx.predictor(model_job_id(job_id))
    tensor = _tensor(inputs[0], binary, "inputs[0]")
    batch = check_rows(tensor, predictor, ctx.settings.max_predict_rows, "inputs[0].shape")
    outputs = predictor.predict(batch)
    count_predicted_rows("kserve", len(batch))
    return _response(job_id, header, outputs)


def _check_version(version: str) -> None:
    if version != VERSION:
        raise NotFound(f"No version {version!r}: each model has version {VERSION}.")


def _tensor_metadata(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name, "datatype": "FP32", "shape": [-1, *shape]}


def _read_request() -> tuple[dict[str, Any], bytes]:
    """The JSON header and whatever binary tensor data follows it."""
    body = request.get_data()
    length = request.headers.get(HEADER_LENGTH)
    if length is not None and (not length.isdigit() or int(length) > len(body)):
        raise MalformedRequest(f"{HEADER_LENGTH} must be a byte count within the body.")
    split = int(length) if length is not None else len(body)
    try:
        header = orjson.loads(body[:split])
    except orjson.JSONDecodeError:
        raise MalformedRequest("The inference request header is not valid JSON.") from None
    if not isinstance(header, dict):
        raise MalformedRequest("The inference request must be a JSON object.")
    return header, body[split:]


def _tensor(spec: dict[str, Any], binary: bytes, path: str) -> np.ndarray:
    datatype, shape = spec.get("datatype"), spec.get("shape")
    if datatype not in DATATYPES:
        raise InvalidInput(
            {
                f"{path}.datatype": [
                    f"Expected a numeric datatype ({', '.join(DATATYPES)}). Received: {datatype!r}."
                ]
            }
        )
    if (
        not isinstance(shape, list)
        or len(shape) < 2
        or not all(isinstance(d, int) and d >= 0 for d in shape)
    ):
        raise InvalidInput(
            {
                f"{path}.shape": [
                    f"Expected [rows, *input shape] as non-negative integers. Received: {shape!r}."
                ]
            }
        )
    dtype, count = np.dtype(DATATYPES[datatype]).newbyteorder("<"), int(np.prod(shape))
    size = (spec.get("parameters") or {}).get("binary_data_size")
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
    data = np.asarray(spec.get("data"))
    if data.dtype.kind not in "iuf" or data.size != count:
        raise InvalidInput(
            {
                f"{path}.data": [
                    f"Expected {count} numbers for shape {shape}. "
                    f"Received {data.size} values of kind {data.dtype.kind!r}."
                ]
            }
        )
    return data.astype(dtype).reshape(shape)


def _response(job_id: str, header: dict[str, Any], outputs: np.ndarray) -> Response:
    requested = header.get("outputs") or []
    for i, wanted in enumerate(requested):
        if not isinstance(wanted, dict) or wanted.get("name") != OUTPUT:
            raise InvalidInput(
                {f"outputs[{i}].name": [f"This model has one output, named '{OUTPUT}'."]}
            )
    binary = bool((header.get("parameters") or {}).get("binary_data_output")) or any(
        (w.get("parameters") or {}).get("binary_data") for w in requested
    )
    tensor: dict[str, Any] = {"name": OUTPUT, "datatype": "FP32", "shape": list(outputs.shape)}
    outputs = np.ascontiguousarray(outputs, dtype="<f4")
    if binary:
        tensor["parameters"] = {"binary_data_size": outputs.nbytes}
    else:
        tensor["data"] = outputs.ravel()
    body = {
        "model_name": job_id,
        "model_version": VERSION,
        "id": header.get("id") or str(uuid.uuid4()),
        "outputs": [tensor],
    }
    encoded = current_app.json.dumps(body).encode()
    if not binary:
        return Response(encoded, mimetype="application/json")
    response = Response(encoded + outputs.tobytes(), mimetype="application/octet-stream")
    response.headers[HEADER_LENGTH] = str(len(encoded))
    return response
