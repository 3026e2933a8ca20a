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
from flask import Response, current_app, request

from service import serving
from service.api import Blueprint, inference_request
from service.auth import READ, public, requires
from service.context import services
from service.http import resolve
from service.schemas.kserve import (
    HEADER_LENGTH,
    V2InferRequestSchema,
    V2InferResponseSchema,
    V2LiveSchema,
    V2ModelMetadataSchema,
    V2ModelReadySchema,
    V2ReadySchema,
    V2ServerMetadataSchema,
    decode_tensor,
)
from service.serving import INPUT, OUTPUT, VERSION

bp = Blueprint(
    "kserve",
    __name__,
    url_prefix="/v2",
    protocol=True,
    description=(
        "The KServe V2 / Open Inference Protocol over HTTP/REST (server and model health "
        "and metadata, inference), with the binary tensor data extension: the model name "
        "is the job's ID or an alias, its only version `1`. Problems carry an `error` member."
    ),
)
# The one version, as a path segment: any other is not a route (404).
VERSIONED = f'/versions/<any("{VERSION}"):version>'


@bp.get("")
@bp.response(200, V2ServerMetadataSchema, description="The server's name and extensions.")
@public
def server_metadata() -> dict[str, Any]:
    """Server metadata (KServe V2)"""
    return {
        "name": "keras-training-service",
        "version": "0.1.0",
        "extensions": ["binary_tensor_data"],
    }


@bp.get("/health/live")
@bp.response(200, V2LiveSchema, description="The server is live.")
@public
def live() -> dict[str, Any]:
    """Server liveness (KServe V2)"""
    return {"live": True}


@bp.get("/health/ready")
@bp.response(200, V2ReadySchema, description="The server is ready.")
@public
def ready() -> dict[str, Any]:
    """Server readiness (KServe V2)

    Ready to infer: stored models load without Redis, so this process is enough.
    """
    return {"ready": True}


@bp.get("/models/<ref:ref>")
@bp.get(f"/models/<ref:ref>{VERSIONED}", endpoint="model_version_metadata")
@bp.response(200, V2ModelMetadataSchema, description="The model's tensors.")
@bp.problems(409, 503)
@requires(READ)
def model_metadata(ref: str, version: str = VERSION) -> dict[str, Any]:
    """Model metadata (KServe V2)"""
    predictor = services().predictor(resolve(ref))
    return {
        "name": ref,
        "versions": [VERSION],
        "platform": "keras",
        "inputs": [_tensor_metadata(INPUT, predictor.input_shape)],
        "outputs": [_tensor_metadata(OUTPUT, predictor.output_shape)],
    }


@bp.get("/models/<ref:ref>/ready")
@bp.get(f"/models/<ref:ref>{VERSIONED}/ready", endpoint="model_version_ready")
@bp.response(200, V2ModelReadySchema, description="The model can infer.")
@bp.problems(409, 503)
@requires(READ)
def model_ready(ref: str, version: str = VERSION) -> dict[str, Any]:
    """Model readiness (KServe V2)

    200 when the model can infer; 404, or 409 while its job has not finished.
    """
    services().predictor(resolve(ref))
    return {"name": ref, "ready": True}


@bp.post("/models/<ref:ref>/infer")
@bp.post(f"/models/<ref:ref>{VERSIONED}/infer", endpoint="infer_version")
@bp.arguments(V2InferRequestSchema, location="inference")
@bp.response(
    200, V2InferResponseSchema, description="The output tensor.", headers=serving.ANSWER_HEADERS
)
@bp.doc(parameters=[serving.ROUTING_PARAMETER])
@bp.problems(409, 503)
@requires(READ)
def infer(body: dict[str, Any], ref: str, version: str = VERSION) -> Response:
    """Inference (KServe V2)

    One input tensor, `input`, as JSON `data` or binary tensor data after the JSON
    (`Inference-Header-Content-Length` gives the JSON's length); its values must fit its
    datatype. The answer's output, `output`, is FP32, as JSON or, when asked for, binary.
    """
    tensor = decode_tensor(body["inputs"][0], inference_request(request)[1], "inputs[0]")
    routed = serving.predict(ref, "kserve", tensor, "inputs[0]")
    return _response(ref, body, routed.outputs, routed.job_id)


def _tensor_metadata(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name, "datatype": "FP32", "shape": [-1, *shape]}


def _response(ref: str, body: dict[str, Any], outputs: np.ndarray, job_id: str) -> Response:
    binary = body["parameters"]["binary_data_output"] or any(
        wanted["parameters"]["binary_data"] for wanted in body["outputs"]
    )
    tensor: dict[str, Any] = {"name": OUTPUT, "datatype": "FP32", "shape": list(outputs.shape)}
    outputs = np.ascontiguousarray(outputs, dtype="<f4")
    if binary:
        tensor["parameters"] = {"binary_data_size": outputs.nbytes}
    else:
        tensor["data"] = outputs.ravel()
    answer = {
        "model_name": ref,
        "model_version": job_id,  # the job that answered (an alias has several)
        "id": body.get("id") or str(uuid.uuid4()),
        "outputs": [tensor],
    }
    encoded = current_app.json.dumps(answer).encode()
    if not binary:
        return Response(encoded, mimetype="application/json")
    response = Response(encoded + outputs.tobytes(), mimetype="application/octet-stream")
    response.headers[HEADER_LENGTH] = str(len(encoded))
    return response
