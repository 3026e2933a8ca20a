"""The one prediction path of the three protocols (ours, TF Serving, KServe V2):
`predict` resolves the model (an alias's target by weight), checks the batch, runs the
session and counts the rows; the blueprints only translate their wire formats to its
inputs and from its outputs (for the JSON routes, a `Wire`, which service.shortcut
uses too). Every answer names the job that answered it (`X-Model-Job-ID`), and one
through an alias is accounted for once it is made (`after_prediction`: counters,
feedback record, shadow, payload log)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from flask import Response, current_app, g, request
from marshmallow import Schema

from service.context import services
from service.errors import InvalidInput
from service.metrics import count_predicted_rows
from service.ml.arrays import rows_to_array, to_float32
from service.ml.classes import to_classes
from service.rollouts.routing import ROUTING_HEADER
from service.rollouts.traffic import Routed

if TYPE_CHECKING:
    from service.context import Services
    from service.ml.predictor import Predictor

# What TF Serving and KServe clients see of every model: one version, one input tensor
# and one output tensor, under these names.
VERSION, INPUT, OUTPUT = "1", "input", "output"
# The response header naming the job whose model answered.
MODEL_HEADER = "X-Model-Job-ID"
# How the two headers are described on every prediction route.
ANSWER_HEADERS = {
    MODEL_HEADER: {
        "description": "The job whose model answered (through an alias: the target picked).",
        "schema": {"type": "string", "format": "uuid"},
    }
}
ROUTING_PARAMETER = {
    "in": "header",
    "name": ROUTING_HEADER,
    "required": False,
    "schema": {"type": "string"},
    "description": (
        "Through an alias with weighted targets: requests with the same key reach the same "
        "target while the weights stand (a user, session or device ID). Without it, each "
        "request picks a target at random by weight."
    ),
}


@dataclass(frozen=True)
class Wire:
    """A JSON prediction route's wire format, for its view and service.shortcut alike:
    the schema that loads its body, the rows, their JSON path and the `return` wanted
    in a loaded body (`inputs`), and the answer made of the outputs (`answer`)."""

    protocol: str
    schema: type[Schema]
    inputs: Callable[[dict[str, Any]], tuple[list[Any], str, str]]
    answer: Callable[[Routed, dict[str, Any]], dict[str, Any]]


def respond(wire: Wire, ref: str, body: dict[str, Any]) -> Response:
    """A JSON prediction route's answer to a loaded `body`, made as described (a
    Response, not a dict: flask-smorest would dump it again)."""
    rows, path, wanted = wire.inputs(body)
    routed = predict(ref, wire.protocol, rows, path, wanted)
    return current_app.json.response(wire.answer(routed, body))


def predict(
    ref: str,
    protocol: str,
    inputs: list[Any] | np.ndarray,
    path: str,
    wanted: str = "probabilities",
) -> Routed:
    """Run the model `ref` names (a job ID, or an alias: one of its targets) on
    `inputs`, the request's rows at `path`: JSON lists of the model's input shape, or a
    tensor that arrived shaped (KServe V2). `wanted` is what our protocol's `return`
    asked for. Returns the job that answered, with the batch, outputs and class map."""
    ctx = services()
    # Kept before the model runs, so that a failure through an alias is accounted for.
    routed = g.routed = ctx.route(ref, request.headers.get(ROUTING_HEADER))
    run(ctx, routed, inputs, path, wanted)
    count_predicted_rows(protocol, len(routed.batch))
    return routed


def run(
    ctx: Services, routed: Routed, inputs: list[Any] | np.ndarray, path: str, wanted: str
) -> None:
    """Check the batch against the model `routed` names and run it: the batch, outputs
    and class map go into `routed`. Bound to no request (service.shortcut runs it)."""
    predictor = ctx.predictor(routed.job_id)
    check_return(wanted, predictor)
    if isinstance(inputs, np.ndarray):
        batch = check_rows(inputs, predictor, path)
    else:
        batch = rows_batch(inputs, predictor, path)
    routed.batch, routed.outputs = batch, predictor.predict(batch)
    routed.classes = predictor.classes


def after_prediction(response: Response) -> Response:
    """An after-request hook: name the job that answered a prediction, and account for
    one made through an alias (its failures included)."""
    routed: Routed | None = g.pop("routed", None)
    if routed is None:
        return response
    response.headers[MODEL_HEADER] = routed.job_id
    if routed.alias is not None:
        started = g.get("metrics_started")
        seconds = time.perf_counter() - started if started is not None else 0.0
        services().traffic.observe(routed, response.status_code, seconds, g.get("request_id"))
    return response


def rows_batch(rows: list[Any], predictor: Predictor, path: str) -> np.ndarray:
    """A float32 batch the model accepts, or a 422 naming the row and expected shape
    (the request's schema has bounded the number of rows)."""
    return rows_to_array(rows, path, InvalidInput, predictor.input_shape, "the model's input shape")


def check_rows(batch: np.ndarray, predictor: Predictor, path: str) -> np.ndarray:
    """The same checks for a tensor that arrived already shaped (KServe V2's input at
    `path`: its `shape`, and its values as `data`)."""
    if batch.shape[1:] != predictor.input_shape:
        raise InvalidInput(
            {
                f"{path}.shape": [
                    f"Expected shape [-1, {', '.join(map(str, predictor.input_shape))}] (rows of "
                    f"the model's input shape). Received: {list(batch.shape)}."
                ]
            }
        )
    return to_float32(batch, f"{path}.data", InvalidInput)


def check_return(wanted: str, predictor: Predictor) -> None:
    """Whether this model can give the `return` a predict request asked for."""
    if wanted != "probabilities" and predictor.classes is None:
        raise InvalidInput(
            {"return": ["This model was trained with a regression loss: it has no classes."]}
        )


def answer(routed: Routed, wanted: str) -> dict[str, Any]:
    """Our /predict answer: raw outputs, class labels, or both."""
    result: dict[str, Any] = {}
    if wanted in ("probabilities", "both"):
        result["predictions"] = routed.outputs
    if wanted in ("classes", "both"):
        result["classes"] = to_classes(routed.outputs, routed.classes)
    return result
